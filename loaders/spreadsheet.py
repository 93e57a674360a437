"""XLSX/XLS/ODS: python-calamine first (it reads files openpyxl chokes on), openpyxl as the fallback."""

from __future__ import annotations

import logging
from pathlib import Path

import openpyxl
from langchain_core.documents import Document
from python_calamine import CalamineWorkbook

from core.settings import Settings
from loaders.base import LoaderError, table_documents, table_from_rows

log = logging.getLogger(__name__)


def _read_calamine(path: Path) -> dict[str, list[list[object]]]:
    workbook = CalamineWorkbook.from_path(str(path))
    return {name: workbook.get_sheet_by_name(name).to_python() for name in workbook.sheet_names}


def _read_openpyxl(path: Path) -> dict[str, list[list[object]]]:
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        return {sheet.title: [list(row) for row in sheet.iter_rows(values_only=True)] for sheet in workbook}
    finally:
        workbook.close()


def load_spreadsheet(path: Path, settings: Settings) -> list[Document]:
    try:
        sheets = _read_calamine(path)
    except Exception as calamine_error:  # calamine raises its own and OS errors alike
        if path.suffix.lower() not in {".xlsx", ".xlsm"}:
            raise LoaderError(f"The spreadsheet could not be read ({calamine_error})") from None
        log.info("calamine could not read %s (%s); trying openpyxl", path.name, calamine_error)
        try:
            sheets = _read_openpyxl(path)
        except Exception as openpyxl_error:
            raise LoaderError(f"The spreadsheet could not be read ({openpyxl_error})") from None

    documents: list[Document] = []
    for sheet, rows in sheets.items():
        table = table_from_rows(rows)
        if table is None:
            continue
        documents += table_documents(
            table,
            title=f"Planilha: {sheet}",
            metadata={"sheet": sheet},
            rows_per_chunk=settings.spreadsheet_rows_per_chunk,
            max_chars=settings.chunk_size,
        )
    if not documents:
        raise LoaderError("The spreadsheet has no data (every sheet is empty or holds only a header)")
    return documents
