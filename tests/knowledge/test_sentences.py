"""A passage read as sentences: wrapped lines joined, headings introducing their sentence, list items and table
rows apart."""

from __future__ import annotations

from knowledge.sentences import split_sentences


def test_sentences_split_at_full_stops_and_line_breaks_keeping_decimals_and_headings():
    assert split_sentences("Sono\nDurma de 7 a 9 horas. Coma 1,6 g de proteína por quilo. Ok.") == [
        "Sono: Durma de 7 a 9 horas.", "Coma 1,6 g de proteína por quilo. Ok."]
    # A line wrapped inside a sentence is one sentence again.
    assert split_sentences("A carga deve\nsubir aos poucos, de 2 a 5 por cento.") == [
        "A carga deve subir aos poucos, de 2 a 5 por cento."]


def test_lines_a_pdf_wrapped_inside_sentences_are_joined_and_list_items_and_table_rows_kept_apart():
    page = ("Esportes e suas categorias\n"
            "• Rede: reúne modalidades que se caracterizam por arremessar ou rebater a bola\n"
            "em direção à quadra adversária. Alguns exemplos de esportes de\n"
            "rede são voleibol, vôlei de praia e tênis de campo.\n"
            "• Campo e taco: reúne modalidades de rebater a bola (beisebol, críquete).\n"
            "Treino A\n"
            "Exercício | Séries | Repetições | Descanso (s) | Observações\n"
            "Agachamento livre | 3 | 8-10 | 90 | Coxa paralela ao chão\n"
            "Supino reto com barra | 3 | 8-10 | 90 | Escápulas retraídas")

    assert split_sentences(page) == [
        "Esportes e suas categorias: • Rede: reúne modalidades que se caracterizam por arremessar ou rebater a bola "
        "em direção à quadra adversária.",
        "Alguns exemplos de esportes de rede são voleibol, vôlei de praia e tênis de campo.",
        "• Campo e taco: reúne modalidades de rebater a bola (beisebol, críquete).",
        "Treino A: Exercício | Séries | Repetições | Descanso (s) | Observações",
        "Agachamento livre | 3 | 8-10 | 90 | Coxa paralela ao chão",
        "Supino reto com barra | 3 | 8-10 | 90 | Escápulas retraídas",
    ]


def test_a_sentence_never_opens_on_the_stop_of_the_one_before_it():
    # Chunks indexed before the splitter kept stops at the end open on ". "; what a student reads must not.
    assert split_sentences(". Durma de 7 a 9 horas por noite. Coma 1,6 g de proteína por quilo.") == [
        "Durma de 7 a 9 horas por noite.", "Coma 1,6 g de proteína por quilo."]


def test_a_short_table_row_is_a_sentence_of_its_own():
    table = "Alimento | Porção | Proteína (g)\nOvo | 1 | 6\nPeito de frango | 100 g | 31\nLeite | 1 copo | 8"

    assert split_sentences(table) == table.split("\n")
