"""Every loader turns a corrupt, empty or malformed file into a LoaderError that says what is wrong."""

from collections.abc import Callable
from pathlib import Path

import docx
import openpyxl
import pytest

from loaders.base import LoaderError
from loaders.csv_file import load_csv
from loaders.docx import load_docx
from loaders.pdf import load_pdf
from loaders.spreadsheet import load_spreadsheet
from loaders.subtitles import load_subtitles


def text(content: str) -> Callable[[Path], None]:
    return lambda path: path.write_text(content, encoding="utf-8")


def workbook(*rows: list) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        book = openpyxl.Workbook()
        for row in rows:
            book.active.append(row)
        book.save(path)

    return write


CASES = [
    ("falso.docx", text("não sou um docx"), load_docx, "not a readable Word document"),
    ("vazio.docx", lambda path: docx.Document().save(path), load_docx, "no text"),
    ("quebrada.srt", text("1\nisto não é um tempo\ntexto\n"), load_subtitles, "subtitle file is malformed"),
    ("corrupt.pdf", lambda path: path.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage without xref"),
     load_pdf, "not a readable PDF"),
    ("vazia.xlsx", workbook(), load_spreadsheet, "no data"),
    ("so-cabecalho.xlsx", workbook(["Exercício", "Séries"]), load_spreadsheet, "no data"),
    ("quebrada.xlsx", lambda path: path.write_bytes(b"PK\x03\x04 this is not a zip archive"), load_spreadsheet,
     "could not be read"),
    ("vazio.csv", text("Exercício,Séries\n"), load_csv, "no data rows"),
]


@pytest.mark.parametrize(("name", "write", "load", "message"), CASES, ids=[case[0] for case in CASES])
def test_unreadable_file_is_a_clear_error(settings, tmp_path, name, write, load, message):
    path = tmp_path / name
    write(path)

    with pytest.raises(LoaderError, match=message):
        load(path, settings)
