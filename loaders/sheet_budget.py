"""Spreadsheet budgets: each sheet's used range, found before a reader builds its grid, and the cells read.

calamine and openpyxl materialise a sheet as a dense grid: one cell at A1 and one at XFD1048576 ask for 17
billion cells, and calamine aborts the whole process when that allocation fails. So the cells of an XLSX are
scanned first (a regular-expression pass over each worksheet's XML, streamed out of the zip), and a sheet
whose used range is over MAX_SHEET_CELLS is refused before any reader touches it. A range is counted from
row 1, because both readers yield the empty rows above the first cell.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from core.settings import Settings
from loaders.base import LoaderError

CHUNK_BYTES = 4 << 20
# A tag longer than this is not a cell; dropping it keeps a crafted part without '<' from going quadratic.
MAX_TAG_BYTES = 64 << 10

# The common layout (Excel, LibreOffice, openpyxl): `<c r="B7" ...>`, reference first, no namespace prefix.
# Self-closing cells (`<c r="B7" s="1"/>`) hold only formatting; readers leave them out of the range.
FAST_CELL = re.compile(rb'<c r="([A-Z]{1,3})([0-9]{1,7})"[^>/]*>')
# Anything else: prefixed tags, references elsewhere or missing (a cell then follows the previous one).
ANY_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(row|c)\b([^>]*)>")
PREFIXED_CELL = re.compile(rb"<[A-Za-z_][\w.-]*:c[\s/>]")
REFERENCE = re.compile(rb"""\br\s*=\s*["']([A-Za-z]*)([0-9]*)["']""")


@dataclass(frozen=True)
class SheetExtent:
    name: str
    first_row: int = 0
    first_column: int = 0
    last_row: int = 0
    last_column: int = 0

    @property
    def rows(self) -> int:
        return self.last_row - self.first_row + 1 if self.last_row else 0

    @property
    def columns(self) -> int:
        return self.last_column - self.first_column + 1 if self.last_column else 0

    @property
    def cells(self) -> int:
        return self.rows * self.columns

    @property
    def reference(self) -> str:
        if not self.cells:
            return ""
        return (f"{column_letters(self.first_column)}{self.first_row}:"
                f"{column_letters(self.last_column)}{self.last_row}")


def column_number(letters: bytes) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + letter - 64
    return number


def column_letters(number: int) -> str:
    letters = ""
    while number > 0:
        number, remainder = divmod(number - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


class _Bounds:
    def __init__(self) -> None:
        self.first_column = 1 << 62
        self.last_row = self.last_column = 0

    def add(self, rows: Iterable[int], columns: Iterable[int]) -> None:
        rows, columns = set(rows), set(columns)
        if rows and columns:
            self.last_row = max(self.last_row, *rows)
            self.first_column, self.last_column = min(self.first_column, *columns), max(self.last_column, *columns)

    def extent(self, name: str) -> SheetExtent:
        if not self.last_row:
            return SheetExtent(name)
        return SheetExtent(name, 1, self.first_column, self.last_row, self.last_column)


def _chunks(archive: zipfile.ZipFile, part: str) -> Iterator[tuple[bytes, int]]:
    """The part's bytes in pieces, each with the offset where its last (maybe unfinished) tag starts."""
    tail = b""
    with archive.open(part) as stream:
        while chunk := stream.read(CHUNK_BYTES):
            data = tail + chunk
            end = data.rfind(b"<")
            end = len(data) if end < 0 else end
            yield data, end
            tail = data[end:] if len(data) - end <= MAX_TAG_BYTES else b""
    if tail:
        yield tail, len(tail)


def _fast_scan(archive: zipfile.ZipFile, part: str, name: str) -> SheetExtent | None:
    """Extent of a sheet written in the common layout; None when some cell is written otherwise."""
    bounds = _Bounds()
    for data, end in _chunks(archive, part):
        cells = FAST_CELL.findall(data, 0, end)
        tags = data.count(b"<c ", 0, end) + data.count(b"<c>", 0, end) + data.count(b"<c/>", 0, end)
        if data.count(b'<c r="', 0, end) != tags or PREFIXED_CELL.search(data, 0, end):
            return None
        bounds.add((int(row) for row in {row for _, row in cells}),
                   (column_number(column) for column in {column for column, _ in cells}))
    return bounds.extent(name)


def _full_scan(archive: zipfile.ZipFile, part: str, name: str) -> SheetExtent:
    """Extent of a sheet in any layout, walking every row and cell tag as the readers do."""
    row = column = last_row = last_column = 0
    first_column = 1 << 62
    for data, end in _chunks(archive, part):
        for match in ANY_TAG.finditer(data, 0, end):
            kind, attributes = match.groups()
            reference = REFERENCE.search(attributes)
            if kind == b"row":
                row = int(reference[2]) if reference and reference[2] else row + 1
                column = 0
                continue
            if reference and reference[1]:
                column = column_number(reference[1])
                row = int(reference[2]) if reference[2] else row
            else:
                column += 1
            if not attributes.endswith(b"/"):
                last_row = max(last_row, row)
                first_column, last_column = min(first_column, column), max(last_column, column)
    if not last_row:
        return SheetExtent(name)
    return SheetExtent(name, 1, first_column, last_row, last_column)


def _sheet_names(archive: zipfile.ZipFile) -> dict[str, str]:
    """Worksheet part → the sheet's name, from the workbook and its relationships ({} if they are unreadable)."""
    try:
        workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        relationships = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError, zipfile.BadZipFile):
        return {}
    targets = {item.get("Id"): item.get("Target", "") for item in relationships}
    names = {}
    for sheet in workbook.iter():
        if not sheet.tag.endswith("}sheet"):
            continue
        target = next((targets.get(value, "") for key, value in sheet.attrib.items() if key.endswith("}id")), "")
        part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
        names[part] = sheet.get("name", part)
    return names


def xlsx_extents(path: Path) -> list[SheetExtent]:
    """The used range of every worksheet of an XLSX/XLSM; [] when it is not a readable zip (its reader says why)."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        return []
    with archive:
        names = _sheet_names(archive)
        parts = [item for item in archive.namelist()
                 if item.startswith("xl/worksheets/") and item.endswith(".xml") and item.count("/") == 2]
        extents = []
        for part in parts:
            name = names.get(part, part)
            try:
                extents.append(_fast_scan(archive, part, name) or _full_scan(archive, part, name))
            except (zipfile.BadZipFile, EOFError, ValueError):
                continue  # a damaged part: the reader reports the file as unreadable
        return extents


def check_sheet(extent: SheetExtent, settings: Settings) -> None:
    limit = settings.max_sheet_cells
    if extent.cells > limit:
        where = f" ({extent.reference})" if extent.reference else ""
        raise LoaderError(
            f"Sheet '{extent.name}' spans {extent.rows:,} rows × {extent.columns:,} columns{where}, "
            f"{extent.cells:,} cells: over the limit of {limit:,} cells per sheet (MAX_SHEET_CELLS)"
        )


def check_workbook(extents: Sequence[SheetExtent], settings: Settings) -> None:
    """Refuse a workbook with a sheet or, all sheets together, a used range over its budget."""
    for extent in extents:
        check_sheet(extent, settings)
    total = sum(extent.cells for extent in extents)
    if total > settings.max_workbook_cells:
        raise LoaderError(
            f"The workbook's sheets span {total:,} cells, over the limit of {settings.max_workbook_cells:,} "
            "cells per workbook (MAX_WORKBOOK_CELLS)"
        )


class CellCounter:
    """Counts the cells a reader yields across one workbook, and stops it at MAX_WORKBOOK_CELLS."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.cells = 0

    def rows(self, rows: Iterable[Sequence[object]]) -> Iterator[Sequence[object]]:
        limit = self.settings.max_workbook_cells
        for row in rows:
            self.cells += len(row)
            if self.cells > limit:
                raise LoaderError(
                    f"The workbook has more than {limit:,} cells, over the limit per workbook (MAX_WORKBOOK_CELLS)"
                )
            yield row
