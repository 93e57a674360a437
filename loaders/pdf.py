"""PDF: the text layer through pdfium (pypdf where pdfium finds nothing), OCR for image-only pages.

OCR has two budgets: a page is rendered at OCR_DPI unless that would exceed MAX_OCR_PIXELS (then at a lower
DPI, down to MIN_OCR_DPI, and skipped below it), and tesseract gets OCR_PAGE_TIMEOUT_SECONDS per page. A
skipped page only fails the file when no other page has text.
"""

from __future__ import annotations

import collections
import logging
import math
import re
import shutil
from pathlib import Path

import pypdf
import pypdfium2 as pdfium
from langchain_core.documents import Document

from core.settings import Settings
from loaders.base import LoaderError

log = logging.getLogger(__name__)

# A page with less text than this is treated as a scan and sent to OCR.
MIN_TEXT_CHARS = 20
OCR_DPI = 300
# Under this resolution body text is too small for tesseract to read: render nothing rather than noise.
MIN_OCR_DPI = 150
# Lines that open or close at least this share of pages are running headers/footers.
BOILERPLATE_SHARE = 0.3
BOILERPLATE_WINDOW = 4


def ocr_available(language: str = "por") -> bool:
    if shutil.which("tesseract") is None:
        return False
    import pytesseract

    try:
        return language in pytesseract.get_languages(config="")
    except pytesseract.TesseractError:
        return False


def clean_page_text(text: str) -> str:
    """Join words hyphenated across lines and normalise whitespace."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # pdfium marks a soft line-break hyphen with \x02; a plain hyphen before a lowercase letter is the same.
    text = re.sub(r"\x02\n?", "", text)
    text = re.sub(r"(\w)-\n(?=[a-zà-ÿ])", r"\1", text)
    text = re.sub(r"[ \t\u00a0]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _strip_boilerplate(pages: list[str]) -> list[str]:
    """Drop running headers, footers and bare page numbers repeated across pages."""
    if len(pages) < 4:
        return pages

    def edges(text: str) -> set[str]:
        lines = [line.strip() for line in text.split("\n") if line.strip()]
        return set(lines[:BOILERPLATE_WINDOW] + lines[-BOILERPLATE_WINDOW:])

    counts = collections.Counter(line for page in pages for line in edges(page))
    repeated = {line for line, count in counts.items() if count >= BOILERPLATE_SHARE * len(pages)}
    cleaned = []
    for page in pages:
        lines = page.split("\n")
        tail_start = max(BOILERPLATE_WINDOW, len(lines) - BOILERPLATE_WINDOW)
        head, body, tail = lines[:BOILERPLATE_WINDOW], lines[BOILERPLATE_WINDOW:tail_start], lines[tail_start:]

        def keep(line: str) -> bool:
            stripped = line.strip()
            return stripped not in repeated and not stripped.isdigit()

        cleaned.append("\n".join([*filter(keep, head), *body, *filter(keep, tail)]).strip())
    return cleaned


def _open(path: Path, settings: Settings) -> pdfium.PdfDocument:
    try:
        document = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as error:
        if "password" in str(error).lower():
            raise LoaderError("The PDF is password-protected; upload a copy without a password") from None
        raise LoaderError(f"The file is not a readable PDF ({error})") from None
    if len(document) == 0:
        raise LoaderError("The PDF has no pages")
    if len(document) > settings.max_pdf_pages:
        pages = len(document)
        document.close()
        raise LoaderError(f"The PDF has {pages:,} pages, over the limit of {settings.max_pdf_pages:,} (MAX_PDF_PAGES)")
    return document


def _pypdf_pages(path: Path) -> list[str] | None:
    """pypdf reads some malformed files that pdfium returns blank; None if it cannot either."""
    try:
        return [page.extract_text() or "" for page in pypdf.PdfReader(path).pages]
    except MemoryError:
        raise
    except Exception as error:  # pypdf raises many unrelated types on broken files
        log.info("pypdf could not read %s: %s", path.name, error)
        return None


def _is_empty(document: pdfium.PdfDocument, index: int) -> bool:
    """A page without a single object renders blank: OCR would spend a second to find nothing."""
    page = document[index]  # held while its raw handle is used
    return pdfium.raw.FPDFPage_CountObjects(page.raw) == 0


class OcrSkipped(Exception):
    """A page left out of OCR by a budget; the file fails with this message only if no page has text."""


def ocr_scale(width_pt: float, height_pt: float, max_pixels: int) -> float:
    """Render scale (pixels per point) for OCR: OCR_DPI, or less so the page stays within max_pixels."""
    scale = OCR_DPI / 72
    pixels = width_pt * scale * height_pt * scale
    if pixels > max_pixels:
        scale *= (max_pixels / pixels) ** 0.5
        # pdfium rounds each side up to whole pixels.
        while scale > 0 and math.ceil(width_pt * scale) * math.ceil(height_pt * scale) > max_pixels:
            scale *= 0.999
    return scale


def _ocr(page: pdfium.PdfPage, number: int, settings: Settings) -> str:
    import pytesseract

    width, height = page.get_size()
    scale = ocr_scale(width, height, settings.max_ocr_pixels)
    if scale * 72 < MIN_OCR_DPI:
        needed = width * height * (MIN_OCR_DPI / 72) ** 2
        raise OcrSkipped(
            f"Page {number} measures {width / 72 * 25.4:,.0f} × {height / 72 * 25.4:,.0f} mm: OCR at "
            f"{MIN_OCR_DPI} DPI would render {needed:,.0f} pixels, over the limit of "
            f"{settings.max_ocr_pixels:,} (MAX_OCR_PIXELS)"
        )
    image = page.render(scale=scale).to_pil()
    try:
        return pytesseract.image_to_string(image, lang=settings.ocr_language,
                                           timeout=settings.ocr_page_timeout_seconds)
    except RuntimeError as error:
        if "timeout" not in str(error).lower():
            raise
        raise OcrSkipped(
            f"OCR of page {number} took longer than {settings.ocr_page_timeout_seconds:g} s "
            "(OCR_PAGE_TIMEOUT_SECONDS)"
        ) from None


def load_pdf(path: Path, settings: Settings) -> list[Document]:
    document = _open(path, settings)
    try:
        texts = [document[index].get_textpage().get_text_bounded() for index in range(len(document))]
        blank = [index for index, text in enumerate(texts) if len(text.strip()) < MIN_TEXT_CHARS]
        if blank:
            fallback = _pypdf_pages(path)
            if fallback and len(fallback) == len(texts):
                for index in blank:
                    if len(fallback[index].strip()) >= MIN_TEXT_CHARS:
                        texts[index] = fallback[index]
        ocr_pages: set[int] = set()
        skipped: list[str] = []
        still_blank = [index for index in blank
                       if len(texts[index].strip()) < MIN_TEXT_CHARS and not _is_empty(document, index)]
        if still_blank and settings.ocr_enabled and ocr_available(settings.ocr_language):
            for index in still_blank:
                try:
                    texts[index] = _ocr(document[index], index + 1, settings)
                except OcrSkipped as reason:
                    log.warning("%s: %s", path.name, reason)
                    skipped.append(str(reason))
                    continue
                ocr_pages.add(index)
    finally:
        document.close()

    pages = _strip_boilerplate([clean_page_text(text) for text in texts])
    documents = [
        Document(page_content=text, metadata={"page": index + 1, "ocr": index in ocr_pages})
        for index, text in enumerate(pages)
        if text
    ]
    if not documents:
        if skipped:
            more = f" ({len(skipped) - 3} more pages likewise)" if len(skipped) > 3 else ""
            raise LoaderError(f"No text could be extracted from the PDF. {' '.join(skipped[:3])}{more}")
        if still_blank and not ocr_available(settings.ocr_language):
            raise LoaderError(
                "The PDF has no text layer and OCR is unavailable (install tesseract-ocr and tesseract-ocr-por)"
            )
        raise LoaderError("No text could be extracted from the PDF")
    return documents
