"""XLSX/XLS/ODS: python-calamine first (it reads files openpyxl chokes on), openpyxl as the fallback.

Both readers build a dense grid, so every sheet's size is checked before its rows are read (see
loaders/sheet_budget.py) and the cells read are counted as they stream.
"""

from __future__ import annotations

import logging
from pathlib import Path

import openpyxl
from langchain_core.documents import Document
from python_calamine import CalamineSheet, CalamineWorkbook

from core.settings import Settings
from loaders.base import LoaderError, Table, table_documents, table_from_rows
from loaders.sheet_budget import CellCounter, SheetExtent, check_sheet, check_workbook, xlsx_extents

log = logging.getLogger(__name__)


def _calamine_extent(name: str, sheet: CalamineSheet) -> SheetExtent:
    """The grid iter_rows() yields: from row 1 (the empty rows above the range too), the range's columns."""
    if not (sheet.height and sheet.width and sheet.start):
        return SheetExtent(name)
    row, column = sheet.start  # 0-based
    return SheetExtent(name, 1, column + 1, row + sheet.height, column + sheet.width)


def _read_calamine(path: Path, settings: Settings) -> dict[str, Table | None]:
    workbook = CalamineWorkbook.from_path(str(path))
    counter, tables = CellCounter(settings), {}
    for name in workbook.sheet_names:
        sheet = workbook.get_sheet_by_name(name)
        # calamine holds the sheet's range natively; no Python object exists for its cells yet.
        check_sheet(_calamine_extent(name, sheet), settings)
        tables[name] = table_from_rows(counter.rows(sheet.iter_rows()))
    return tables


def _read_openpyxl(path: Path, settings: Settings) -> dict[str, Table | None]:
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    counter, tables = CellCounter(settings), {}
    try:
        for sheet in workbook:
            # The declared dimension, read from the sheet's head without reading its rows.
            check_sheet(SheetExtent(sheet.title, 1, 1, sheet.max_row or 0, sheet.max_column or 0), settings)
            tables[sheet.title] = table_from_rows(counter.rows(sheet.iter_rows(values_only=True)))
        return tables
    finally:
        workbook.close()


def load_spreadsheet(path: Path, settings: Settings) -> list[Document]:
    if path.suffix.lower() in {".xlsx", ".xlsm"}:
        check_workbook(xlsx_extents(path), settings)
    try:
        tables = _read_calamine(path, settings)
    except (LoaderError, MemoryError):
        raise
    except Exception as calamine_error:  # calamine raises its own and OS errors alike
        if path.suffix.lower() not in {".xlsx", ".xlsm"}:
            raise LoaderError(f"The spreadsheet could not be read ({calamine_error})") from None
        log.info("calamine could not read %s (%s); trying openpyxl", path.name, calamine_error)
        try:
            tables = _read_openpyxl(path, settings)
        except (LoaderError, MemoryError):
            raise
        except Exception as openpyxl_error:
            raise LoaderError(f"The spreadsheet could not be read ({openpyxl_error})") from None

    documents: list[Document] = []
    for sheet, table in tables.items():
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
