"""Small real documents made for a test."""

from __future__ import annotations


def one_page_pdf(title: str, text: str) -> bytes:
    """A text PDF (fpdf2) with a title line and a paragraph."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 8, f"{title}\n{text}")
    return bytes(pdf.output())


def docx_bytes(text: str) -> bytes:
    """A Word document with one paragraph (python-docx)."""
    import io

    from docx import Document

    document, buffer = Document(), io.BytesIO()
    document.add_paragraph(text)
    document.save(buffer)
    return buffer.getvalue()


def xlsx_bytes(rows: list[list[str]]) -> bytes:
    """A workbook with these rows on its first sheet (openpyxl)."""
    import io

    from openpyxl import Workbook

    workbook, buffer = Workbook(), io.BytesIO()
    for row in rows:
        workbook.active.append(row)
    workbook.save(buffer)
    return buffer.getvalue()
