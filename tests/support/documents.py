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
