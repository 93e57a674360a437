"""The sentences of a passage, read the way a person reads the page: the line breaks a layout put inside sentences
are undone, headings introduce their sentence, list items and table rows stay apart; a table row is read under its
header."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

# Within a line, a sentence ends at . ! ? … before a capital, a digit or an opening quote.
SENTENCE_STOP = re.compile(r"(?<=[.!?…])\s+(?=[\"“'(\[A-ZÁÉÍÓÚÂÊÔÃÕÇ0-9])")
TABLE_CELL = " | "
# A line at least this long (characters) that ends without a stop was wrapped by the layout, whatever the next one
# starts with; a shorter one followed by a capital is a heading or a cell.
WRAPPED_LINE = 50
LIST_MARKS = "•▪◦‣●○■□-–—*"
SHORTEST_SENTENCE = 25  # characters; a shorter piece (a heading, "Fig. 2") joins the next one


def unwrapped(text: str) -> str:
    """The text with the line breaks a layout put inside sentences (a PDF wraps every line) turned into spaces: a
    line continues the previous one unless that one ends a sentence, or it opens a list item, or it starts with a
    capital after a short line (a heading, a table cell); table rows keep their lines."""
    lines: list[str] = []
    for line in (line.strip() for line in text.split("\n")):
        previous = lines[-1] if lines else ""
        if (previous and line and previous[-1] not in ".!?…:;" and line[0] not in LIST_MARKS
                and TABLE_CELL not in previous + line and (line[0].islower() or len(previous) >= WRAPPED_LINE)):
            lines[-1] = f"{previous} {line}"
        else:
            lines.append(line)
    return "\n".join(lines)


def split_sentences(text: str) -> list[str]:
    """The sentences of a passage: its lines (once unwrapped) cut at their stops. A line ending without a stop (a
    heading: "Sono") introduces the sentence after it ("Sono: Durma…"); a table row (cells joined by " | ", as the
    loaders write them) is a sentence of its own, however short; another piece shorter than SHORTEST_SENTENCE joins
    the next."""
    sentences: list[str] = []
    carry = ""
    for line in unwrapped(text).split("\n"):
        line = " ".join(line.split()).lstrip(".,;: ")  # a chunk may open on the previous sentence's stop
        row = TABLE_CELL in line
        pieces = [line] if row else SENTENCE_STOP.split(line) if line else []
        for index, piece in enumerate(pieces):
            opens = piece[:1].isupper() or piece[:1] in LIST_MARKS
            joint = ": " if carry and carry[-1] not in ".!?…:;,)" and opens else " "
            carry = f"{carry}{joint}{piece}".strip()
            heading = not row and index == len(pieces) - 1 and carry[-1] not in ".!?…"
            if (len(carry) >= SHORTEST_SENTENCE or row) and not heading:
                sentences.append(carry)
                carry = ""
    if carry:
        if sentences:
            sentences[-1] = f"{sentences[-1]} {carry}"
        else:
            sentences.append(carry)
    return sentences


def table_rows(sentences: Sequence[str], header: str) -> list[str]:
    """The rows under `header` when it opens a table among a passage's sentences (a row after no other row); none
    otherwise."""
    index = sentences.index(header) if header in sentences else -1
    if index < 0 or TABLE_CELL not in header or (index and TABLE_CELL in sentences[index - 1]):
        return []
    return list(itertools.takewhile(lambda sentence: TABLE_CELL in sentence, sentences[index + 1:]))


def table_header(sentences: Sequence[str], row: str) -> str | None:
    """The first row of the table `row` belongs to among a passage's sentences (None for a sentence outside a table,
    or a table's own first row)."""
    index = sentences.index(row) if TABLE_CELL in row and row in sentences else 0
    first = index
    while first and TABLE_CELL in sentences[first - 1]:
        first -= 1
    return sentences[first] if first < index else None


def with_column_names(row: str, header: str) -> str:
    """A table row as "column: value" pairs ("Exercício: Rosca direta; Séries: 3; Carga (kg): 15."): a small model
    takes a bare cell from the wrong column. The header's first cell may carry the table's title ("Planilha: Treino
    A: Exercício"). A row whose cells do not match the header's stays as it is."""
    names = [cell.rsplit(": ", 1)[-1] for cell in header.split(TABLE_CELL)]
    values = row.split(TABLE_CELL)
    if len(names) != len(values):
        return row
    text = "; ".join(f"{name}: {value}" for name, value in zip(names, values, strict=True))
    return text if text.endswith((".", "!", "?")) else f"{text}."  # a sentence of its own when read again
