"""Parser budgets: crafted files that would exhaust memory or time fail alone, naming the setting that stopped them.

The dangerous files are read through the parsing process (loaders.isolation), so that a guard that stopped
working fails its test instead of taking the test run down.
"""

from __future__ import annotations

import errno
import math
import os
import shutil
import struct
import subprocess
import time
import zipfile
import zlib
from pathlib import Path

import docx
import openpyxl
import pytest
from fpdf import FPDF
from pydantic import SecretStr

from loaders.base import LoaderError, TranscriptRequired
from loaders.isolation import ParseLimitExceeded, isolated_load_file, parser_pid, run_isolated
from loaders.pdf import MIN_OCR_DPI, OCR_DPI, load_pdf, ocr_available, ocr_scale
from loaders.registry import load_file
from loaders.spreadsheet import _read_calamine, _read_openpyxl
from loaders.video import load_video
from tests.conftest import SAMPLES, require
from tests.loaders.test_pdf import _image_only_pdf

# --- crafted files --------------------------------------------------------------------------------------------

XLSX_PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
    ),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Target="xl/workbook.xml" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/></Relationships>'
    ),
    "xl/workbook.xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<sheets><sheet name="Cargas" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Target="worksheets/sheet1.xml" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"/></Relationships>'
    ),
}


def far_apart_xlsx(path: Path, *, dimension: bool = True, prefixed: bool = False) -> None:
    """One cell at A1 and one at XFD1048576: two values, a grid of 17 billion cells."""
    x = "x:" if prefixed else ""
    namespace = 'xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"' if prefixed else (
        'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"')
    sheet = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><{x}worksheet {namespace}>'
        + (f'<{x}dimension ref="A1:XFD1048576"/>' if dimension else "")
        + f'<{x}sheetData><{x}row r="1"><{x}c r="A1" t="inlineStr"><{x}is><{x}t>Exercício</{x}t></{x}is></{x}c>'
        f'</{x}row><{x}row r="1048576"><{x}c r="XFD1048576"><{x}v>80</{x}v></{x}c></{x}row></{x}sheetData>'
        f"</{x}worksheet>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in XLSX_PARTS.items():
            archive.writestr(name, content)
        archive.writestr("xl/worksheets/sheet1.xml", sheet)


def _write_zip(path: Path, members: list[tuple[str, bytes, int, int, int]]) -> None:
    """A zip written by hand from (name, stored bytes, method, crc32, declared size): a part may declare
    gigabytes that were never held in memory."""
    central = b""
    with path.open("wb") as handle:
        for name, data, method, crc, size in members:
            offset, encoded = handle.tell(), name.encode()
            handle.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(data), size,
                                     len(encoded), 0) + encoded + data)
            central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21, crc, len(data),
                                   size, len(encoded), 0, 0, 0, 0, 0, offset) + encoded
        start = handle.tell()
        handle.write(central + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central),
                                           start, 0))


def zip_bomb_docx(path: Path, megabytes: int) -> None:
    """A real Word document whose word/document.xml inflates to `megabytes` MB of zeros.

    After a full flush deflate restarts from a clean state, so one compressed MB of zeros repeats byte for byte:
    the stream is built from copies of it, and the file stays ~1 KB per MB.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(1 << 20)
    block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    stream = block * megabytes + compressor.flush()
    crc = 0
    for _ in range(megabytes):
        crc = zlib.crc32(zeros, crc)
    template = path.with_suffix(".template.docx")
    docx.Document().save(template)
    with zipfile.ZipFile(template) as source:
        members = [(name, source.read(name), 0, zlib.crc32(source.read(name)), len(source.read(name)))
                   for name in source.namelist() if name != "word/document.xml"]
    template.unlink()
    _write_zip(path, [*members, ("word/document.xml", stream, 8, crc, megabytes << 20)])


def huge_page_pdf(path: Path) -> None:
    """One page of 5 × 5 metres and no text: at 300 DPI its render would be 3.5 billion pixels."""
    pdf = FPDF(unit="mm", format=(5000, 5000))
    pdf.add_page()
    pdf.rect(10, 10, 100, 100)
    pdf.output(str(path))


# --- callables for the parsing process (module level: the child imports them by name) ---------------------------


def _greedy() -> int:
    hoard = []
    while True:
        hoard.append(bytearray(64 << 20))


def _calamine_grid(path: Path) -> None:
    from python_calamine import CalamineWorkbook

    CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)  # aborts the process when the grid cannot exist


def _hang(pid_file: Path) -> None:
    helper = subprocess.Popen(["sleep", "600"])
    pid_file.write_text(str(helper.pid))
    time.sleep(600)


def _pid() -> int:
    return os.getpid()


def _fail() -> None:
    raise ValueError("um erro do parser")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


# --- spreadsheets ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["declared", "undeclared", "prefixed"])
def test_far_apart_cells_are_refused_before_a_reader_builds_the_grid(settings, tmp_path, layout):
    path = tmp_path / "cargas.xlsx"
    far_apart_xlsx(path, dimension=layout == "declared", prefixed=layout == "prefixed")

    with pytest.raises(LoaderError) as raised:
        isolated_load_file(path, settings)

    assert not isinstance(raised.value, ParseLimitExceeded)  # refused by the budget, not by the process limit
    assert str(raised.value) == (
        "Sheet 'Cargas' spans 1,048,576 rows × 16,384 columns (A1:XFD1048576), 17,179,869,184 cells: "
        "over the limit of 10,000,000 cells per sheet (MAX_SHEET_CELLS)"
    )


def test_workbook_budget_counts_every_sheet(settings, tmp_path):
    path = tmp_path / "treinos.xlsx"
    book = openpyxl.Workbook()
    for index in range(3):
        sheet = book.active if index == 0 else book.create_sheet()
        sheet.title = f"Semana {index + 1}"
        for row in range(10):
            sheet.append([f"exercício {row}", row, row * 2, row * 3])
    book.save(path)
    settings.max_sheet_cells, settings.max_workbook_cells = 40, 100

    with pytest.raises(LoaderError, match=r"sheets span 120 cells, over the limit of 100 .*\(MAX_WORKBOOK_CELLS\)"):
        load_file(path, settings)
    settings.max_workbook_cells = 120
    assert len(load_file(path, settings)) == 3


def test_both_readers_check_the_sheet_before_reading_it_and_count_cells_as_they_stream(settings, tmp_path):
    far = tmp_path / "cargas.xlsx"
    far_apart_xlsx(far)
    with pytest.raises(LoaderError, match=r"A1:XFD1048576.*\(MAX_SHEET_CELLS\)"):
        _read_openpyxl(far, settings)  # openpyxl's declared dimension, read before any row

    # XLS and ODS have no pre-scan: the cells streamed are counted.
    plain = tmp_path / "plano.xlsx"
    book = openpyxl.Workbook()
    for row in range(50):
        book.active.append([f"série {row}", row, row + 1])
    book.save(plain)
    settings.max_workbook_cells = 100
    for read in (_read_calamine, _read_openpyxl):
        with pytest.raises(LoaderError, match=r"more than 100 cells.*\(MAX_WORKBOOK_CELLS\)"):
            read(plain, settings)
    settings.max_sheet_cells = 120
    with pytest.raises(LoaderError, match=r"50 rows × 3 columns \(A1:C50\), 150 cells.*\(MAX_SHEET_CELLS\)"):
        _read_calamine(plain, settings)


# --- zip archives ----------------------------------------------------------------------------------------------


def test_zip_bomb_docx_is_refused_from_its_central_directory(settings, tmp_path):
    path = tmp_path / "apostila.docx"
    zip_bomb_docx(path, 2048)
    assert path.stat().st_size < 3 * 2**20  # 2 GB of zeros in about 2 MB

    with pytest.raises(LoaderError, match=r"^The file decompresses to 2,04\d MB, over the 1,024 MB limit "
                                          r"\(MAX_UNZIPPED_MB\); it looks like a zip bomb$"):
        isolated_load_file(path, settings)


def test_a_part_compressed_beyond_the_ratio_is_refused(settings, tmp_path):
    path = tmp_path / "apostila.docx"
    zip_bomb_docx(path, 64)  # well under MAX_UNZIPPED_MB, but compressed about 1000:1

    with pytest.raises(LoaderError, match=r"'word/document.xml' inside the file is compressed 1,0\d\d:1, over the "
                                          r"200:1 limit \(MAX_ZIP_RATIO\)"):
        isolated_load_file(path, settings)


def test_real_office_files_pass_the_archive_check(settings):
    for name in ("guia-nutricao-e-recuperacao.docx", "planilha-treino-iniciante.xlsx"):
        assert load_file(SAMPLES / name, settings)


# --- PDF and OCR -----------------------------------------------------------------------------------------------


def test_page_limit_is_checked_before_reading_and_names_its_setting(settings):
    settings.max_pdf_pages = 2

    with pytest.raises(LoaderError, match=r"3 pages, over the limit of 2 \(MAX_PDF_PAGES\)"):
        load_pdf(SAMPLES / "fundamentos-do-treino-de-forca.pdf", settings)


def test_ocr_resolution_follows_the_pixel_budget():
    a4, a0, five_metres = (595, 842), (2384, 3370), (14173, 14173)
    budget = 40_000_000

    assert ocr_scale(*a4, budget) * 72 == pytest.approx(OCR_DPI)  # ordinary pages keep 300 DPI
    poster = ocr_scale(*a0, budget)
    assert MIN_OCR_DPI <= poster * 72 < OCR_DPI
    assert 0.99 * budget < math.ceil(a0[0] * poster) * math.ceil(a0[1] * poster) <= budget
    assert ocr_scale(*five_metres, budget) * 72 < MIN_OCR_DPI  # refused


def test_huge_text_less_page_is_never_rendered_for_ocr(settings, tmp_path):
    require(ocr_available("por"), "tesseract with the 'por' language is not installed")
    path = tmp_path / "mural.pdf"
    huge_page_pdf(path)

    with pytest.raises(LoaderError) as raised:
        isolated_load_file(path, settings)

    assert not isinstance(raised.value, ParseLimitExceeded)
    assert raised.match(r"^No text could be extracted from the PDF. Page 1 measures 5,000 × 5,000 mm: OCR at 150 DPI "
                        r"would render 871,8\d\d,\d\d\d pixels, over the limit of 40,000,000 \(MAX_OCR_PIXELS\)$")


def test_a_page_over_the_pixel_budget_is_read_at_a_lower_resolution(settings, tmp_path, monkeypatch):
    require(ocr_available("por"), "tesseract with the 'por' language is not installed")
    import pytesseract

    path = tmp_path / "scan.pdf"
    _image_only_pdf(path, "Agachamento com carga progressiva")  # 2550 × 750 pixels at 300 DPI
    settings.max_ocr_pixels = 1_000_000
    sizes = []
    real = pytesseract.image_to_string

    def recording(image, **options):
        sizes.append(image.size)
        return real(image, **options)

    monkeypatch.setattr(pytesseract, "image_to_string", recording)

    documents = load_pdf(path, settings)

    assert "agachamento" in documents[0].page_content.lower()
    [(width, height)] = sizes
    assert width * height <= 1_000_000 and width < 2550


def test_tesseract_is_stopped_at_the_page_timeout(settings, tmp_path):
    require(ocr_available("por"), "tesseract with the 'por' language is not installed")
    path = tmp_path / "scan.pdf"
    _image_only_pdf(path, "Agachamento com carga progressiva")
    settings.ocr_page_timeout_seconds = 0.01

    with pytest.raises(LoaderError, match=r"OCR of page 1 took longer than 0.01 s \(OCR_PAGE_TIMEOUT_SECONDS\)"):
        load_pdf(path, settings)


# --- video ----------------------------------------------------------------------------------------------------


def test_ffmpeg_that_hangs_is_stopped_at_its_timeout(settings, tmp_path):
    require(shutil.which("ffmpeg") is not None, "ffmpeg is not installed")
    video = tmp_path / "aula-travada.mp4"
    os.mkfifo(video)  # nobody ever writes: ffmpeg waits on it for ever
    settings.openai_api_key = SecretStr("sk-test")  # Whisper path: ffprobe runs before any request is made
    settings.transcription_provider = "openai"
    settings.ffmpeg_timeout_seconds = 1
    settings.parse_timeout_seconds = 60  # the process limit would stop a regression instead of hanging the suite
    started = time.monotonic()

    with pytest.raises(LoaderError) as raised:
        run_isolated(load_video, video, settings, settings=settings)

    assert str(raised.value) == (
        "ffprobe took longer than 1 s to read the media and was stopped (FFMPEG_TIMEOUT_SECONDS)"
    )
    assert time.monotonic() - started < 30
    with pytest.raises(OSError) as no_reader:  # ffprobe is gone: nobody holds the pipe open for reading
        os.open(video, os.O_WRONLY | os.O_NONBLOCK)
    assert no_reader.value.errno == errno.ENXIO


# --- the parsing process ---------------------------------------------------------------------------------------


def test_a_parser_over_the_memory_limit_fails_alone(settings):
    settings.parse_memory_mb = 1024

    with pytest.raises(ParseLimitExceeded) as raised:
        run_isolated(_greedy, settings=settings)

    assert str(raised.value) == "Reading the file exceeded the memory limit of 1,024 MB (PARSE_MEMORY_MB)"
    assert run_isolated(os.getpid, settings=settings) != os.getpid()  # a fresh child answers the next call


def test_a_native_parser_that_aborts_fails_alone(settings, tmp_path):
    path = tmp_path / "cargas.xlsx"
    far_apart_xlsx(path)

    with pytest.raises(ParseLimitExceeded) as raised:
        run_isolated(_calamine_grid, path, settings=settings)

    assert str(raised.value) == (
        "The parser was killed by SIGABRT while reading the file, most likely over the memory limit of 4,096 MB "
        "(PARSE_MEMORY_MB)"
    )
    assert run_isolated(os.getpid, settings=settings) != os.getpid()


def test_a_parser_over_the_time_limit_is_killed_with_what_it_started(settings, tmp_path):
    pid_file = tmp_path / "helper.pid"
    settings.parse_timeout_seconds = 2
    before = run_isolated(_pid, settings=settings)  # the child has imported this module: the 2 s are _hang's
    started = time.monotonic()

    with pytest.raises(ParseLimitExceeded) as raised:
        run_isolated(_hang, pid_file, settings=settings)

    assert str(raised.value) == (
        "Reading the file exceeded the time limit of 2 s and was stopped (PARSE_TIMEOUT_SECONDS)"
    )
    assert time.monotonic() - started < 15
    helper = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _alive(helper) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(helper)  # the `sleep` the parser started went with it
    assert run_isolated(os.getpid, settings=settings) not in (before, os.getpid())


def test_the_child_is_reused_and_carries_errors_back(settings, tmp_path):
    first = run_isolated(os.getpid, settings=settings)
    assert run_isolated(os.getpid, settings=settings) == first == parser_pid() != os.getpid()

    with pytest.raises(ValueError, match="um erro do parser") as raised:
        run_isolated(_fail, settings=settings)
    assert any("Raised in the parsing process" in note for note in raised.value.__notes__)
    video = tmp_path / "aula-02.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    settings.transcription_provider = "none"
    with pytest.raises(TranscriptRequired) as transcript:
        isolated_load_file(video, settings)
    assert transcript.value.status == "needs_transcript"
    assert run_isolated(os.getpid, settings=settings) == first  # errors do not cost a new process

    settings.parse_isolation = False
    assert run_isolated(os.getpid, settings=settings) == os.getpid()


# --- ingestion -------------------------------------------------------------------------------------------------


def test_crafted_files_fail_alone_and_the_worker_takes_the_next_job(services, materials):
    from knowledge.jobs import JobQueue  # here: the parsing process imports this module for its callables

    require(ocr_available("por"), "tesseract with the 'por' language is not installed")
    far_apart_xlsx(materials / "cargas.xlsx")
    zip_bomb_docx(materials / "apostila.docx", 2048)
    huge_page_pdf(materials / "mural.pdf")
    queue = JobQueue(services.settings)
    queue.start_inline()
    try:
        first = queue.wait(queue.submit(None).id, timeout=300)
        (materials / "aquecimento.txt").write_text("Aquecimento: cinco minutos de mobilidade antes do agachamento.")
        second = queue.wait(queue.submit(None).id, timeout=120)
    finally:
        queue.stop_inline()

    assert first.state == "completed"
    results = {result["file_name"]: result for result in first.results}
    assert {name: results[name]["status"] for name in ("cargas.xlsx", "apostila.docx", "mural.pdf")} == dict.fromkeys(
        ("cargas.xlsx", "apostila.docx", "mural.pdf"), "failed")
    assert "(MAX_SHEET_CELLS)" in results["cargas.xlsx"]["error"]
    assert "(MAX_UNZIPPED_MB)" in results["apostila.docx"]["error"]
    assert "(MAX_OCR_PIXELS)" in results["mural.pdf"]["error"]
    assert {results[path.name]["status"] for path in SAMPLES.iterdir()} == {"indexed"}
    assert second.state == "completed"
    assert services.index.count() == 11 + 1  # the samples' chunks and the new file's
    assert {result["file_name"]: result["status"] for result in second.results}["aquecimento.txt"] == "indexed"


def test_a_parser_that_kills_its_process_fails_only_its_file(services, materials):
    settings = services.settings
    settings.max_sheet_cells = settings.max_workbook_cells = 10**12  # no budget: calamine meets the grid
    far_apart_xlsx(materials / "cargas.xlsx", dimension=False)

    results = {result.file_name: result for result in services.ingestor.sync()}

    assert results["cargas.xlsx"].status == "failed"
    assert "killed by SIGABRT" in results["cargas.xlsx"].error and "(PARSE_MEMORY_MB)" in results["cargas.xlsx"].error
    assert {results[path.name].status for path in SAMPLES.iterdir()} == {"indexed"}
    (materials / "aquecimento.txt").write_text("Aquecimento: cinco minutos de mobilidade antes do agachamento.")
    assert {result.file_name: result.status for result in services.ingestor.sync()}["aquecimento.txt"] == "indexed"
