"""CSV in any common encoding (UTF-8, UTF-16, Latin-1...) and delimiter."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from langchain_core.documents import Document

from core.settings import Settings
from loaders.base import LoaderError, decode_text, table_documents, table_from_rows


def load_csv(path: Path, settings: Settings) -> list[Document]:
    text = decode_text(path.read_bytes())
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    table = table_from_rows(csv.reader(io.StringIO(text), dialect))
    if table is None:
        raise LoaderError("The CSV has no data rows")
    return table_documents(
        table,
        title=f"Tabela: {path.name}",
        metadata={},
        rows_per_chunk=settings.spreadsheet_rows_per_chunk,
        max_chars=settings.chunk_size,
    )
