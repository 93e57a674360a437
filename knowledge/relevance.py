"""Whether retrieved passages can answer a question, judged relative to how similar the same question is to text
about unrelated subjects (e5 similarities of any two Portuguese texts are high; what tells is the margin)."""

from __future__ import annotations

# Short Portuguese passages on subjects far from one another: the mean similarity of a question to them is its
# similarity to "any text", the floor its retrieved passages must clear.
UNRELATED_TEXTS = (
    "A receita leva farinha de trigo, ovos, açúcar e leite; asse em forno médio por quarenta minutos.",
    "O contrato de aluguel deve ser assinado pelo locador e pelo locatário na presença de duas testemunhas.",
    "Para instalar o programa, baixe o arquivo, execute o instalador e reinicie o computador ao final.",
    "A seleção brasileira venceu a partida por dois a zero, com gols marcados no segundo tempo.",
    "O imposto deve ser declarado até o fim de abril, com os comprovantes de rendimentos do ano anterior.",
    "A orquestra apresentou obras de compositores clássicos no teatro municipal da cidade.",
    "O romance narra a história de uma família do interior ao longo de três gerações.",
    "O ônibus parte da rodoviária às oito horas e chega ao destino no início da tarde.",
    "A prefeitura anunciou obras de pavimentação e iluminação nas ruas do bairro.",
    "O celular tem tela de seis polegadas, câmera tripla e bateria que dura o dia inteiro.",
    "A Revolução Francesa começou em 1789 e mudou a organização política da Europa.",
    "Regue as plantas pela manhã e deixe o vaso em um local com luz indireta.",
    "O banco oferece conta digital sem tarifa, cartão de crédito e transferências instantâneas.",
    "A reunião de condomínio discutiu a troca do portão e o valor da taxa mensal.",
    "O filme conta a história de um detetive que investiga um crime em uma cidade pequena.",
    "Para trocar o pneu, afrouxe os parafusos, levante o carro com o macaco e encaixe o estepe.",
)
