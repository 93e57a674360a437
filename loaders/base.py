"""What every loader shares: the error a caller sees, text decoding, and row grouping for tables."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from charset_normalizer import from_bytes
from langchain_core.documents import Document


class LoaderError(Exception):
    """A file that cannot be turned into text; the message is shown to the caller as is."""

    status = "failed"


class TranscriptRequired(LoaderError):
    """A video with no transcript and no way to make one."""

    status = "needs_transcript"


def decode_text(raw: bytes) -> str:
    """Decode bytes of unknown encoding (UTF-8/16 with or without BOM, Latin-1, CP1252...)."""
    if not raw.strip():
        return ""
    for bom, encoding in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if raw.startswith(bom):
            return raw.decode(encoding)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        matches = from_bytes(raw)
    best = matches.best()
    if best is None:
        raise LoaderError("The file is not text in any encoding that could be recognised")
    # Short texts read as well in several code pages ("Repetições" is "Repetiçőes" in cp1250); a Brazilian file that
    # is not UTF-8 is Windows-1252 or Latin-1 (its subset) whenever that reads as well as the best guess.
    windows = next((match for match in matches if match.encoding == "cp1252"), None)
    return str(windows if windows is not None and windows.chaos <= best.chaos else best)


def format_cell(value: object) -> str:
    """Spreadsheet cells as a person reads them: 12 not 12.0, dates without a time of midnight."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        text = value.isoformat()
        return text.removesuffix("T00:00:00")
    return str(value).strip()


@dataclass(frozen=True)
class Table:
    """A header row and its data rows, with the 1-based row number of each data row."""

    header: list[str]
    rows: list[tuple[int, list[str]]]


def table_from_rows(rows: Iterable[Sequence[object]]) -> Table | None:
    """Build a table whose header is the first non-empty row; None when there is no data row."""
    header: list[str] | None = None
    data: list[tuple[int, list[str]]] = []
    for number, row in enumerate(rows, start=1):
        cells = [format_cell(value) for value in row]
        if not any(cells):
            continue
        if header is None:
            header = cells
        else:
            data.append((number, cells))
    if header is None or not data:
        return None
    return Table(header=header, rows=data)


def table_documents(
    table: Table, *, title: str, metadata: dict, rows_per_chunk: int, max_chars: int
) -> list[Document]:
    """Group rows into chunks that each repeat the header, so every chunk can be read alone."""
    width = len(table.header)
    header_line = " | ".join(name or f"coluna {index + 1}" for index, name in enumerate(table.header))
    prefix = f"{title}\n{header_line}\n"
    documents: list[Document] = []
    lines: list[str] = []
    first_row = last_row = 0

    def flush() -> None:
        if lines:
            documents.append(
                Document(
                    page_content=prefix + "\n".join(lines),
                    metadata={**metadata, "row_start": first_row, "row_end": last_row},
                )
            )
            lines.clear()

    for number, cells in table.rows:
        line = " | ".join(cells + [""] * (width - len(cells)))
        if lines and (len(lines) >= rows_per_chunk or len(prefix) + sum(map(len, lines)) + len(line) > max_chars):
            flush()
        if not lines:
            first_row = number
        lines.append(line)
        last_row = number
    flush()
    return documents
