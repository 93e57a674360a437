"""Spreadsheets and CSV: header in every chunk, sheet and row numbers in metadata."""

import openpyxl
import pytest

from loaders.csv_file import load_csv
from loaders.spreadsheet import load_spreadsheet
from tests.conftest import SAMPLES


def test_sample_workbook_has_one_chunk_per_sheet_with_header(settings):
    documents = load_spreadsheet(SAMPLES / "planilha-treino-iniciante.xlsx", settings)

    assert [document.metadata["sheet"] for document in documents] == ["Treino A", "Treino B"]
    assert documents[0].metadata["row_start"] == 2 and documents[0].metadata["row_end"] == 6
    assert "Agachamento livre | 3 | 8-10 | 90" in documents[0].page_content


def test_header_is_repeated_in_every_chunk_of_a_long_sheet(settings, tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Cargas"
    sheet.append(["Semana", "Carga (kg)"])
    for week in range(1, 46):
        sheet.append([week, 40 + week * 2.5])
    path = tmp_path / "cargas.xlsx"
    workbook.save(path)
    settings.spreadsheet_rows_per_chunk = 20

    documents = load_spreadsheet(path, settings)

    assert len(documents) == 3
    assert all(document.page_content.split("\n")[1] == "Semana | Carga (kg)" for document in documents)
    assert [(d.metadata["row_start"], d.metadata["row_end"]) for d in documents] == [(2, 21), (22, 41), (42, 46)]
    assert "1 | 42.5" in documents[0].page_content  # whole numbers without ".0", decimals kept


def test_a_table_below_the_first_row_keeps_the_row_numbers_of_the_sheet(settings, tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet["C3"], sheet["D3"], sheet["C4"], sheet["D4"] = "Exercício", "Séries", "Supino", 3
    path = tmp_path / "deslocada.xlsx"
    workbook.save(path)

    [document] = load_spreadsheet(path, settings)

    assert (document.metadata["row_start"], document.metadata["row_end"]) == (4, 4)
    assert document.page_content.endswith("Exercício | Séries\nSupino | 3")





def test_utf16_csv_with_semicolons_is_decoded(settings, tmp_path):
    path = tmp_path / "exercicios.csv"
    path.write_text("Exercício;Grupo muscular\nSupino;Peitoral\nAgachamento;Quadríceps\n", encoding="utf-16")

    documents = load_csv(path, settings)

    assert documents[0].page_content.split("\n")[1:] == ["Exercício | Grupo muscular", "Supino | Peitoral",
                                                          "Agachamento | Quadríceps"]


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_a_brazilian_csv_not_in_utf8_keeps_its_accents(settings, tmp_path, encoding):
    # charset_normalizer alone reads this as cp1250 ("Repetiçőes", "Elevaçăo"): as likely, for so short a text.
    text = ("Exercício;Séries;Repetições;Observações\nElevação lateral;4;15;Sem impulsão\n"
            "Tríceps testa;3;10;Não travar\n")
    path = tmp_path / "treino.csv"
    path.write_bytes(text.encode(encoding))

    documents = load_csv(path, settings)

    assert "Exercício | Séries | Repetições | Observações" in documents[0].page_content
    assert "Elevação lateral | 4 | 15 | Sem impulsão" in documents[0].page_content


def test_latin1_csv_is_decoded(settings, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("Exercício,Descrição\nRemada,Costas e bíceps\n".encode("latin-1"))

    documents = load_csv(path, settings)

    assert "Remada | Costas e bíceps" in documents[0].page_content
