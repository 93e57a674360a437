"""Backup and restore of the RAG server's state: the catalogue, the materials and the embedded vector store,
as one tar.gz. Both hold the ingestion lock, so no job writes while the copy is taken or replaced."""

from __future__ import annotations

import shutil
import sqlite3
import tarfile
import tempfile
from functools import cache
from pathlib import Path, PurePosixPath

from filelock import FileLock, Timeout

from core.archives import UnsafeArchive, safe_extract
from knowledge.catalog import SCHEMA
from knowledge.services import Services

CATALOG = "catalog.sqlite3"
LOCK_WAIT_SECONDS = 30
# The largest archive POST /restore accepts, and the most one may unpack to.
BACKUP_LIMIT = 50 * 2**30
# Files and folders: the catalogue, every material, and Chroma's few files per collection.
MAX_MEMBERS = 100_000


class BackupError(RuntimeError):
    """The backup or restore cannot be done now or from this archive (the caller's problem: 4xx)."""


class InvalidBackup(BackupError):
    """The uploaded archive is not a sound backup of the RAG server: damaged, crafted, or something else."""


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
    """Replace materials, vectors and catalogue with an archive's; returns what was restored. The archive is
    unpacked and checked first: InvalidBackup, with nothing stored changed, if it is not sound."""
    _check_embedded(services)
    settings = services.settings
    with tempfile.TemporaryDirectory(dir=settings.data_dir) as folder:
        unpacked = Path(folder)
        _unpack(archive, unpacked)
        try:
            with _ingestion_lock(services):
                _swap(unpacked / "materials", settings.materials_path)
                _swap(unpacked / "chroma", settings.chroma_path)
                version = services.catalog.import_from(unpacked / CATALOG)
                services.index.reload(version)
                services.lexical.reset()
                services.lexical.fill(services.index.pages())
        except Timeout:
            raise BackupError("An ingestion job is running; try the restore again when it ends") from None
    return {"materials": len(services.catalog.materials()), "chunks": services.index.count(),
            "index_version": version}


def _unpack(archive: Path, folder: Path) -> None:
    try:
        safe_extract(archive, folder, max_members=MAX_MEMBERS, max_bytes=BACKUP_LIMIT)
    except UnsafeArchive as error:
        raise InvalidBackup(f"Not a backup archive of the RAG server: {error}") from None
    expected = {CATALOG: Path.is_file, "materials": Path.is_dir, "chroma": Path.is_dir}
    missing = [name for name, is_kind in expected.items() if not is_kind(folder / name)]
    if missing:
        raise InvalidBackup(f"Not a backup archive of the RAG server: it lacks {', '.join(missing)}")
    _check_catalogue(folder / CATALOG, folder / "materials")


def _check_catalogue(catalogue: Path, materials: Path) -> None:
    """Once restored the catalogue is trusted (downloads and deletions follow its paths), so it must be one of
    this server's: its tables, no triggers or views to rewrite rows later, and every material inside materials/."""
    connection = sqlite3.connect(catalogue)
    try:
        problem = _catalogue_problem(connection, materials)
    except sqlite3.DatabaseError as error:
        problem = f"it is not a readable SQLite database ({error})"
    finally:
        connection.close()
    if problem:
        raise InvalidBackup(f"The backup's catalogue is refused: {problem}")


def _catalogue_problem(connection: sqlite3.Connection, materials: Path) -> str | None:
    connection.execute("PRAGMA query_only = ON")
    if connection.execute("PRAGMA quick_check").fetchone()[0] != "ok":
        return "it is damaged"
    code = connection.execute("SELECT type, name FROM sqlite_master WHERE type NOT IN ('table', 'index') "
                              "OR sql LIKE 'CREATE VIRTUAL TABLE%'").fetchone()
    if code:
        return f"it has the {code[0]} {code[1]!r}; a catalogue of this server has only tables and indexes"
    for table, columns in _catalogue_columns().items():
        found = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
        if not columns <= found:
            return f"its table {table} lacks {', '.join(sorted(columns - found))}"
    for (path,) in connection.execute("SELECT path FROM materials"):
        if not _inside(path, materials):
            return f"the material {path!r:.200} is not inside MATERIALS_DIR"
    return None


@cache
def _catalogue_columns() -> dict[str, set[str]]:
    """Each table of this server's catalogue schema, with its columns."""
    connection = sqlite3.connect(":memory:")
    try:
        connection.executescript(SCHEMA)
        tables = [name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {table: {row[1] for row in connection.execute(f"PRAGMA table_info({table})")} for table in tables}
    finally:
        connection.close()


def _inside(path: object, materials: Path) -> bool:
    """A catalogue path names a file under `materials`: relative, no `..`, and no link leading out."""
    if not isinstance(path, str) or "\0" in path:
        return False
    relative = PurePosixPath(path)
    if relative.is_absolute() or not relative.parts or ".." in relative.parts:
        return False
    return (materials / relative).resolve().is_relative_to(materials.resolve())
