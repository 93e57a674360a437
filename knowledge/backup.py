"""Backup and restore of the RAG server's state: the catalogue, the materials and the embedded vector store,
as one tar.gz. Both hold the ingestion lock, so no job writes while the copy is taken or replaced."""

from __future__ import annotations

import shutil
import tarfile
import tempfile
from pathlib import Path

from filelock import FileLock, Timeout

from knowledge.services import Services

CATALOG = "catalog.sqlite3"
LOCK_WAIT_SECONDS = 30


class BackupError(RuntimeError):
    """The backup or restore cannot be done now or from this archive (the caller's problem: 4xx)."""


def _ingestion_lock(services: Services) -> FileLock:
    return FileLock(services.settings.data_dir / "ingest.lock", timeout=LOCK_WAIT_SECONDS)


def _check_embedded(services: Services) -> None:
    if services.settings.chroma_server_url:
        raise BackupError("The vectors live on a Chroma server (CHROMA_SERVER_URL): back it up with Chroma's tools")


def write_backup(services: Services, archive: Path) -> None:
    _check_embedded(services)
    settings = services.settings
    try:
        with _ingestion_lock(services), tempfile.TemporaryDirectory(dir=settings.data_dir) as folder:
            services.catalog.export_to(Path(folder) / CATALOG)
            with tarfile.open(archive, "w:gz") as tar:
                tar.add(Path(folder) / CATALOG, arcname=CATALOG)
                tar.add(settings.materials_path, arcname="materials")
                tar.add(settings.chroma_path, arcname="chroma")
    except Timeout:
        raise BackupError("An ingestion job is running; try the backup again when it ends") from None


def _swap(new: Path, current: Path) -> None:
    old = current.with_name(f".{current.name}-before-restore")
    shutil.rmtree(old, ignore_errors=True)
    if current.exists():
        current.rename(old)
    shutil.move(new, current)
    shutil.rmtree(old, ignore_errors=True)


def restore_backup(services: Services, archive: Path) -> dict:
    """Replace materials, vectors and catalogue with an archive's; returns what was restored."""
    _check_embedded(services)
    settings = services.settings
    with tempfile.TemporaryDirectory(dir=settings.data_dir) as folder:
        unpacked = Path(folder)
        try:
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(unpacked, filter="data")  # no absolute paths, links out or devices
        except (tarfile.TarError, OSError, EOFError) as error:
            raise BackupError(f"Not a backup archive of the RAG server: {error}") from None
        missing = [name for name in (CATALOG, "materials", "chroma") if not (unpacked / name).exists()]
        if missing:
            raise BackupError(f"Not a backup archive of the RAG server: it lacks {', '.join(missing)}")
        try:
            with _ingestion_lock(services):
                _swap(unpacked / "materials", settings.materials_path)
                _swap(unpacked / "chroma", settings.chroma_path)
                version = services.catalog.import_from(unpacked / CATALOG)
                services.index.reload(version)
        except Timeout:
            raise BackupError("An ingestion job is running; try the restore again when it ends") from None
    return {"materials": len(services.catalog.materials()), "chunks": services.index.count(),
            "index_version": version}
