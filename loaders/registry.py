"""Which loader reads which file, and the checks every file passes before it is read."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from langchain_core.documents import Document

from core.settings import Settings
from loaders.base import LoaderError
from loaders.csv_file import load_csv
from loaders.docx import load_docx
from loaders.extensions import SUPPORTED_EXTENSIONS, VIDEO_EXTENSIONS
from loaders.pdf import load_pdf
from loaders.spreadsheet import load_spreadsheet
from loaders.subtitles import load_subtitles
from loaders.text import load_text
from loaders.video import is_sidecar, load_video, sidecar_for
from loaders.zip_guard import ZIP_EXTENSIONS, check_archive

Loader = Callable[[Path, Settings], list[Document]]

LOADERS: dict[str, Loader] = {
    ".pdf": load_pdf,
    ".xlsx": load_spreadsheet,
    ".xlsm": load_spreadsheet,
    ".xls": load_spreadsheet,
    ".ods": load_spreadsheet,
    ".docx": load_docx,
    ".csv": load_csv,
    ".txt": load_text,
    ".md": load_text,
    ".srt": load_subtitles,
    ".vtt": load_subtitles,
    **dict.fromkeys(VIDEO_EXTENSIONS, load_video),
}


def is_material(path: Path) -> bool:
    """A file the index takes on its own (a video's sidecar subtitles travel with the video)."""
    return (
        path.is_file()
        and path.suffix.lower() in SUPPORTED_EXTENSIONS
        and not path.name.startswith(".")
        and not is_sidecar(path)
    )


def fingerprint(path: Path) -> str:
    """sha256 of what the index reads from a material: a video is read through its transcript."""
    digest = hashlib.sha256()
    if path.suffix.lower() in VIDEO_EXTENSIONS:
        stat = path.stat()
        digest.update(f"{path.name}:{stat.st_size}".encode())
        sidecar = sidecar_for(path)
        if sidecar is not None:
            digest.update(sidecar.read_bytes())
        return digest.hexdigest()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_file(path: Path, settings: Settings) -> list[Document]:
    """Read one material into documents, or raise LoaderError saying precisely why not."""
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        supported = ", ".join(sorted(SUPPORTED_EXTENSIONS))
        raise LoaderError(f"Unsupported file type '{path.suffix or path.name}'; supported: {supported}")
    size = path.stat().st_size
    if size == 0:
        raise LoaderError("The file is empty")
    if size > settings.max_file_bytes and loader is not load_video:
        raise LoaderError(
            f"The file is {size / 2**20:.1f} MB, over the {settings.max_file_mb} MB limit (MAX_FILE_MB)"
        )
    if path.suffix.lower() in ZIP_EXTENSIONS:
        check_archive(path, settings)
    return loader(path, settings)
