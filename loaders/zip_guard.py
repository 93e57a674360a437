"""Zip bomb guard for the formats that are zip archives (xlsx, xlsm, docx, ods), read from the central directory."""

from __future__ import annotations

import zipfile
from pathlib import Path

from core.settings import Settings
from loaders.base import LoaderError

ZIP_EXTENSIONS = frozenset({".xlsx", ".xlsm", ".docx", ".ods"})
# Small parts (styles, themes) compress far beyond any sane ratio and cost nothing to read: only parts over
# this size are held to MAX_ZIP_RATIO.
RATIO_MIN_BYTES = 1 << 20


def check_archive(path: Path, settings: Settings) -> None:
    """Refuse an archive whose parts would decompress to too much, before any parser opens it.

    Only the central directory is read. A file that is not a zip is left to its parser, whose error says what
    is wrong with it. Python's zipfile never inflates a part beyond the size declared here (it stops with a
    CRC error), and the child process's memory limit bounds parsers that trust the stream instead.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError):
        return
    limit = settings.max_unzipped_mb
    total = sum(member.file_size for member in members)
    if total > limit * 2**20:
        raise LoaderError(
            f"The file decompresses to {total / 2**20:,.0f} MB, over the {limit:,} MB limit (MAX_UNZIPPED_MB); "
            "it looks like a zip bomb"
        )
    for member in members:
        if member.file_size < RATIO_MIN_BYTES:
            continue
        ratio = member.file_size / max(member.compress_size, 1)
        if ratio > settings.max_zip_ratio:
            raise LoaderError(
                f"'{member.filename}' inside the file is compressed {ratio:,.0f}:1, over the "
                f"{settings.max_zip_ratio}:1 limit (MAX_ZIP_RATIO); it looks like a zip bomb"
            )
