from pathlib import Path

import pypdf
import pytest
from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont

from loaders.base import LoaderError
from loaders.pdf import clean_page_text, load_pdf, ocr_available
from tests.conftest import CORPUS, SAMPLES, require


def test_sample_pdf_gives_one_document_per_page_with_page_numbers(settings):
    documents = load_pdf(SAMPLES / "fundamentos-do-treino-de-forca.pdf", settings)

    assert [document.metadata["page"] for document in documents] == [1, 2, 3]
    assert "sobrecarga progressiva" in documents[0].page_content.lower()
    assert "6 a 12 repetições" in documents[1].page_content


def test_words_hyphenated_across_lines_are_joined():
    text = "com\x02\r\nparar e espe-\ncífica, mas não Rio-\nSão"
    assert clean_page_text(text) == "comparar e específica, mas não Rio-\nSão"


def test_running_headers_are_dropped_and_short_pages_keep_every_line():
    from loaders.pdf import _strip_boilerplate

    pages = [f"CURSO DNA\nlinha a{n}\nlinha b{n}\nlinha c{n}\nlinha d{n}\nlinha e{n}\n{n}" for n in range(5)]

    cleaned = _strip_boilerplate(pages)

    assert cleaned[0] == "linha a0\nlinha b0\nlinha c0\nlinha d0\nlinha e0"


def test_real_curriculum_pdf_drops_running_headers_and_keeps_every_page(settings):
    documents = load_pdf(CORPUS / "bncc-educacao-fisica.pdf", settings)

    # Page 18 of the chapter is blank; every other page has text.
    assert [document.metadata["page"] for document in documents] == [p for p in range(1, 28) if p != 18]
    text = "\n".join(document.page_content for document in documents)
    assert "BASE NACIONAL\nCOMUM CURRICULAR" not in text
    assert "práticas corporais" in text
    assert "\x02" not in text



def test_encrypted_pdf_is_a_clear_error(settings, tmp_path):
    writer = pypdf.PdfWriter(clone_from=SAMPLES / "fundamentos-do-treino-de-forca.pdf")
    writer.encrypt("senha-secreta")
    path = tmp_path / "encrypted.pdf"
    with path.open("wb") as handle:
        writer.write(handle)

    with pytest.raises(LoaderError, match="password-protected"):
        load_pdf(path, settings)


def _image_only_pdf(path: Path, text: str) -> None:
    image = Image.new("RGB", (1700, 500), "white")
    font = ImageFont.load_default(size=64)
    ImageDraw.Draw(image).text((60, 180), text, fill="black", font=font)
    image_path = path.with_suffix(".png")
    image.save(image_path)
    pdf = FPDF(unit="pt", format=(1700 * 0.36, 500 * 0.36))
    pdf.add_page()
    pdf.image(str(image_path), x=0, y=0, w=1700 * 0.36, h=500 * 0.36)
    pdf.output(str(path))


def test_image_only_pdf_is_read_by_ocr(settings, tmp_path):
    require(ocr_available("por"), "tesseract with the 'por' language is not installed")
    path = tmp_path / "scan.pdf"
    _image_only_pdf(path, "Agachamento com carga progressiva")

    documents = load_pdf(path, settings)

    assert documents[0].metadata["ocr"] is True
    assert "agachamento" in documents[0].page_content.lower()


def test_image_only_pdf_without_ocr_says_how_to_get_it(settings, tmp_path):
    path = tmp_path / "scan.pdf"
    _image_only_pdf(path, "Agachamento")
    settings.ocr_enabled = False

    with pytest.raises(LoaderError, match="No text could be extracted|OCR is unavailable"):
        load_pdf(path, settings)
