"""Write the bundled pt-BR sample materials (PDF, XLSX, DOCX, SRT, a spoken lesson video) into examples/materials/.

The video needs Debian's espeak-ng (the Brazilian voice) and ffmpeg; it has no subtitles: the knowledge base
transcribes it with the bundled Whisper model."""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import docx
import openpyxl
from fpdf import FPDF

PDF_PAGES = [
    (
        "Princípios do treinamento de força",
        [
            "O treinamento de força é a prática de exercícios contra uma resistência externa com o objetivo de "
            "aumentar a força, a potência, a resistência muscular e a massa muscular. Quatro princípios orientam "
            "a prescrição: sobrecarga progressiva, especificidade, individualidade biológica e reversibilidade.",
            "Sobrecarga progressiva significa aumentar de forma gradual o estímulo do treino: mais carga, mais "
            "repetições, mais séries ou menos descanso. Sem progressão, o organismo se adapta e os ganhos param. "
            "Uma regra prática para iniciantes é aumentar a carga em 2 a 5 por cento quando todas as séries "
            "forem completadas com boa técnica.",
            "Especificidade indica que o corpo se adapta ao tipo de estímulo recebido: quem quer força máxima "
            "deve treinar com cargas altas; quem quer resistência muscular, com mais repetições e cargas menores.",
        ],
    ),
    (
        "Variáveis do treino para hipertrofia",
        [
            "Para hipertrofia, recomenda-se de 6 a 12 repetições por série, com 3 a 5 séries por exercício e "
            "intervalos de descanso de 60 a 120 segundos entre as séries. O volume semanal indicado fica entre "
            "10 e 20 séries por grupo muscular, distribuídas em duas ou mais sessões na semana.",
            "A intensidade deve levar a série perto da falha muscular: deixar de uma a três repetições em "
            "reserva é suficiente para estimular o crescimento muscular com menos fadiga acumulada.",
            "A frequência de duas vezes por semana para cada grupo muscular costuma render mais do que treinar "
            "cada músculo uma única vez por semana com o mesmo volume total.",
        ],
    ),
    (
        "Força máxima e técnica do agachamento",
        [
            "Para força máxima, o treino usa de 1 a 5 repetições com cargas entre 85 e 95 por cento de uma "
            "repetição máxima (1RM), com 3 a 6 séries e descanso longo, de 2 a 5 minutos, para recuperar o "
            "sistema neuromuscular entre as séries.",
            "No agachamento livre, os pés ficam na largura dos ombros, com as pontas levemente para fora. O "
            "tronco se mantém firme, a coluna neutra, e os joelhos acompanham a direção das pontas dos pés. A "
            "descida vai até a coxa ficar pelo menos paralela ao chão, sem perder a curvatura lombar.",
            "Erros comuns: deixar os joelhos caírem para dentro, tirar os calcanhares do chão e arredondar a "
            "lombar no fundo do movimento.",
        ],
    ),
]

WORKOUTS = {
    "Treino A": [
        ("Agachamento livre", 3, "8-10", 90, "Coxa paralela ao chão"),
        ("Supino reto com barra", 3, "8-10", 90, "Escápulas retraídas"),
        ("Remada curvada", 3, "10-12", 75, "Tronco a 45 graus"),
        ("Desenvolvimento com halteres", 3, "10-12", 60, "Sem arquear a lombar"),
        ("Prancha", 3, "30-45 s", 45, "Abdômen contraído"),
    ],
    "Treino B": [
        ("Levantamento terra", 3, "6-8", 120, "Barra próxima às pernas"),
        ("Supino inclinado com halteres", 3, "10-12", 75, "Banco a 30 graus"),
        ("Puxada na frente", 3, "10-12", 75, "Puxar até o queixo"),
        ("Afundo com halteres", 3, "10 por perna", 60, "Joelho não passa muito da ponta do pé"),
        ("Elevação de panturrilha", 4, "12-15", 45, "Pausa de 1 s no alto"),
    ],
}

NUTRITION = [
    ("heading", "Nutrição e recuperação para o treino de força"),
    ("text", "O músculo cresce na recuperação, não durante o treino. Alimentação, sono e controle da fadiga "
             "determinam quanto do estímulo do treino se transforma em ganho."),
    ("heading", "Proteína"),
    ("text", "A ingestão diária recomendada de proteína para quem treina força é de 1,6 a 2,2 gramas por "
             "quilo de peso corporal, dividida em 3 a 5 refeições com 20 a 40 gramas de proteína cada."),
    ("heading", "Sono"),
    ("text", "Durma de 7 a 9 horas por noite. Dormir menos de 6 horas reduz a recuperação, a força e a "
             "síntese de proteína muscular."),
    ("heading", "Semana de descarga (deload)"),
    ("text", "A cada 4 a 8 semanas de treino intenso, faça uma semana de descarga reduzindo o volume pela "
             "metade e mantendo a técnica. Ela dissipa a fadiga acumulada sem perder as adaptações."),
    ("table", [("Alimento", "Porção", "Proteína (g)"), ("Peito de frango", "100 g", "31"),
               ("Ovo", "2 unidades", "12"), ("Iogurte grego", "170 g", "17"), ("Feijão cozido", "1 concha", "7")]),
]

SUBTITLES = [
    ("00:00:01,000", "00:00:06,000", "Olá, turma! Nesta aula vamos falar da técnica do supino reto com barra."),
    ("00:00:06,500", "00:00:13,000", "Primeiro, deite no banco com os olhos alinhados logo abaixo da barra."),
    ("00:00:13,500", "00:00:21,000", "Retraia e deprima as escápulas, como se quisesse colocá-las no bolso de trás "
                                     "da calça. Isso protege os ombros."),
    ("00:00:21,500", "00:00:28,000", "Os pés ficam firmes no chão, e os glúteos não saem do banco durante a "
                                     "repetição."),
    ("00:00:28,500", "00:00:36,000", "A pegada fica um pouco mais aberta que a largura dos ombros, com os punhos "
                                     "retos, alinhados com os antebraços."),
    ("00:00:36,500", "00:00:45,000", "Desça a barra de forma controlada até tocar o peito, na linha dos mamilos, "
                                     "com os cotovelos a cerca de 45 graus do tronco."),
    ("00:00:45,500", "00:00:52,000", "Empurre a barra de volta soltando o ar, sem tirar as escápulas do lugar."),
    ("00:00:52,500", "00:01:00,000", "E lembre: use sempre um parceiro de segurança quando a carga for alta."),
]


def write_pdf(path: Path) -> None:
    pdf = FPDF()
    pdf.set_auto_page_break(auto=True, margin=20)
    for title, paragraphs in PDF_PAGES:
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 16)
        pdf.multi_cell(0, 10, title)
        pdf.ln(4)
        pdf.set_font("Helvetica", size=11)
        for paragraph in paragraphs:
            pdf.multi_cell(0, 6, paragraph)
            pdf.ln(3)
    pdf.set_creation_date(datetime(2026, 1, 1, tzinfo=UTC))
    pdf.output(str(path))


def write_xlsx(path: Path) -> None:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in WORKOUTS.items():
        sheet = workbook.create_sheet(name)
        sheet.append(["Exercício", "Séries", "Repetições", "Descanso (s)", "Observações"])
        for row in rows:
            sheet.append(list(row))
    workbook.properties.created = workbook.properties.modified = datetime(2026, 1, 1)
    workbook.save(path)


def write_docx(path: Path) -> None:
    document = docx.Document()
    for kind, content in NUTRITION:
        if kind == "heading":
            document.add_heading(content, level=1)
        elif kind == "text":
            document.add_paragraph(content)
        else:
            table = document.add_table(rows=0, cols=len(content[0]))
            for row in content:
                cells = table.add_row().cells
                for cell, value in zip(cells, row, strict=True):
                    cell.text = value
    document.save(path)


def write_srt(path: Path) -> None:
    blocks = [f"{number}\n{start} --> {end}\n{text}\n" for number, (start, end, text) in enumerate(SUBTITLES, 1)]
    path.write_text("\n".join(blocks), encoding="utf-8")


# Worded for espeak-ng's voice as Whisper base hears it: "levemente para fora" came out as a profanity.
LESSON = (
    "Aula dois: agachamento livre. Abra os pés na largura dos ombros, com as pontas dos pés um pouco abertas. "
    "Desça devagar até as coxas ficarem paralelas ao chão e depois suba. "
    "Para iniciantes, faça três séries de oito a doze repetições, com descanso de dois minutos."
)


def write_lesson_video(path: Path) -> None:
    """The lesson spoken by espeak-ng's Brazilian voice over a still frame: H.264 + AAC at a low rate (~100 KB)."""
    with tempfile.TemporaryDirectory() as folder:
        speech = Path(folder) / "lesson.wav"
        subprocess.run(["espeak-ng", "-v", "pt-br", "-s", "150", "-w", str(speech), LESSON], check=True)
        seconds = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                                  str(speech)], check=True, capture_output=True, text=True).stdout.strip()
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                        f"color=c=0x1d3557:s=320x180:r=2:d={seconds}", "-i", str(speech), "-c:v", "libx264",
                        "-tune", "stillimage", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "32k", "-ac", "1",
                        "-map_metadata", "-1", "-fflags", "+bitexact", str(path)], check=True)


def main(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    write_pdf(target / "fundamentos-do-treino-de-forca.pdf")
    write_xlsx(target / "planilha-treino-iniciante.xlsx")
    write_docx(target / "guia-nutricao-e-recuperacao.docx")
    write_srt(target / "aula-01-tecnica-do-supino.srt")
    write_lesson_video(target / "aula-02-agachamento.mp4")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", nargs="?", type=Path,
                        default=Path(__file__).resolve().parent.parent / "examples" / "materials",
                        help="folder to write into (default: examples/materials/)")
    main(parser.parse_args().target)
