"""Receiving uploaded files (both servers): safe names, a size limit while streaming, the content hash."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from pathlib import Path

from fastapi import HTTPException, UploadFile, status

from loaders.extensions import SUPPORTED_EXTENSIONS

BLOCK = 1 << 20


def safe_file_name(name: str) -> str:
    """A plain file name: no folders, no control or shell characters, no leading dot, at most 120 chars."""
    name = unicodedata.normalize("NFC", Path(name.replace("\\", "/")).name)
    name = re.sub(r"[^\w.\- ]", "-", name).strip(" .-")
    stem, suffix = os.path.splitext(name)
    return (stem[: 120 - len(suffix)] or "material") + suffix.lower()


def material_names(uploads: list[UploadFile]) -> list[str]:
    """Safe names of an upload's files; 415 for a type the knowledge base cannot read, 400 for a repeated name."""
    names = [safe_file_name(upload.filename or "material") for upload in uploads]
    unsupported = [name for name in names if Path(name).suffix.lower() not in SUPPORTED_EXTENSIONS]
    if unsupported:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                            f"Unsupported file type: {', '.join(unsupported)}; "
                            f"supported: {', '.join(sorted(SUPPORTED_EXTENSIONS))}")
    if len(set(names)) != len(names):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Two files of this upload have the same name")
    return names


async def save_upload(upload: UploadFile, folder: Path, limit: int, limit_name: str) -> tuple[Path, str, int]:
    """Copy an upload to a temporary file in `folder`: (path, sha256, size). 413 over `limit`, 400 if empty."""
    folder.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    handle = tempfile.NamedTemporaryFile(dir=folder, prefix=".upload-", delete=False)  # noqa: SIM115 (kept on success)
    temporary = Path(handle.name)
    try:
        with handle:
            while block := await upload.read(BLOCK):
                size += len(block)
                if size > limit:
                    raise HTTPException(413, f"{upload.filename} is over the {limit // 2**20} MB limit ({limit_name})")
                digest.update(block)
                handle.write(block)
        if size == 0:
            raise HTTPException(400, f"{upload.filename} is empty")
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary, digest.hexdigest(), size
