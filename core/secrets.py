"""Secrets generated on first start and kept under DATA_DIR (mode 0600), for deployments that set none.

Every process sharing the DATA_DIR (the RAG server, the API server, workers, the CLI) reads the same value;
separate machines must set the variable explicitly.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def stored_secret(path: Path) -> str:
    """The secret kept at `path`, created (random, 256 bits) by whichever process asks first."""
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_urlsafe(32))
    try:
        os.link(temporary, path)  # atomic, and refused when another process created it first
    except FileExistsError:
        pass
    finally:
        temporary.unlink()
    return _read(path)


def _read(path: Path) -> str:
    value = path.read_text().strip()
    if not value:
        raise ValueError(f"{path} is empty: delete it to have a new secret generated")
    return value
