"""Word documents: paragraphs and tables in reading order, one section per heading."""

from __future__ import annotations

import zipfile
from pathlib import Path

import docx
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table
from langchain_core.documents import Document

from core.settings import Settings
from loaders.base import LoaderError


def _table_text(table: Table) -> str:
    rows = []
    for row in table.rows:
        cells = [cell.text.strip() for cell in row.cells]
        # Merged cells repeat their text in every grid cell they span.
        deduplicated = [cell for index, cell in enumerate(cells) if index == 0 or cell != cells[index - 1]]
        rows.append(" | ".join(deduplicated))
    return "\n".join(rows)


def load_docx(path: Path, settings: Settings) -> list[Document]:
    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as error:
        raise LoaderError(f"The file is not a readable Word document ({error})") from None

    sections: list[tuple[str, list[str]]] = [("", [])]
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            sections[-1][1].append(_table_text(block))
            continue
        text = block.text.strip()
        if not text:
            continue
        if block.style is not None and block.style.name.lower().startswith(("heading", "title", "título")):
            sections.append((text, [text]))
        else:
            sections[-1][1].append(text)

    documents = [
        Document(page_content="\n".join(parts), metadata={"section": title} if title else {})
        for title, parts in sections
        if parts
    ]
    if not documents:
        raise LoaderError("The Word document has no text")
    return documents
