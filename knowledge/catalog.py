"""The materials catalogue, ingestion jobs and the index version, in one SQLite file under DATA_DIR."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS materials (
    id TEXT PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    file_name TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    chunks INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass
class Material:
    id: str
    path: str
    file_name: str
    size: int
    mtime_ns: int
    sha256: str
    status: str
    error: str | None
    chunks: int
    updated_at: float


@dataclass
class Job:
    """An ingestion run: what it was asked, how far it got, and what failed."""

    id: str
    state: str = "queued"  # queued | running | completed | failed
    request: dict = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    files_total: int = 0
    files_done: int = 0
    chunks_total: int = 0
    chunks_done: int = 0
    current_file: str | None = None
    attempts: int = 0
    heartbeat_at: float | None = None  # the running worker's last sign of life
    results: list[dict] = field(default_factory=list)
    error: str | None = None

    @property
    def errors(self) -> list[dict]:
        return [result for result in self.results if result.get("error")]


class Catalog:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.executescript(SCHEMA)
        self._lock = threading.Lock()

    def _execute(self, sql: str, parameters: tuple = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._connection.execute(sql, parameters)

    # Materials
    def get(self, material_id: str) -> Material | None:
        row = self._execute("SELECT * FROM materials WHERE id = ?", (material_id,)).fetchone()
        return Material(*row) if row else None

    def materials(self) -> list[Material]:
        return [Material(*row) for row in self._execute("SELECT * FROM materials ORDER BY path").fetchall()]

    def upsert(self, material: Material) -> None:
        values = asdict(material)
        columns = ", ".join(values)
        placeholders = ", ".join("?" for _ in values)
        self._execute(f"INSERT OR REPLACE INTO materials ({columns}) VALUES ({placeholders})", tuple(values.values()))

    def delete(self, material_id: str) -> None:
        self._execute("DELETE FROM materials WHERE id = ?", (material_id,))

    def clear(self) -> None:
        self._execute("DELETE FROM materials")

    def status_counts(self) -> dict[str, int]:
        rows = self._execute("SELECT status, COUNT(*) FROM materials GROUP BY status").fetchall()
        return dict(rows)

    # Index version: bumped by every write, so readers know when their caches are stale.
    def index_version(self) -> int:
        row = self._execute("SELECT value FROM meta WHERE key = 'index_version'").fetchone()
        return int(row[0]) if row else 0

    def bump_index_version(self) -> int:
        with self._lock:
            self._connection.execute(
                "INSERT INTO meta (key, value) VALUES ('index_version', '1') "
                "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
            )
            return int(self._connection.execute("SELECT value FROM meta WHERE key = 'index_version'").fetchone()[0])

    # Backup
    def export_to(self, path: Path) -> None:
        """A consistent copy of the catalogue (SQLite's online backup)."""
        target = sqlite3.connect(path)
        try:
            with self._lock:
                self._connection.backup(target)
        finally:
            target.close()

    def import_from(self, path: Path) -> int:
        """Replace the catalogue with a copy; the index version moves past both, so every reader reloads."""
        version = self.index_version()
        with self._lock:
            source = sqlite3.connect(path)
            try:
                source.backup(self._connection)
            finally:
                source.close()
        imported = self.index_version()
        with self._lock:
            self._connection.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('index_version', ?)",
                                     (str(max(version, imported) + 1),))
        return self.index_version()

    # Jobs
    def save_job(self, job: Job) -> None:
        self._execute(
            "INSERT OR REPLACE INTO jobs (id, created_at, body) VALUES (?, ?, ?)",
            (job.id, job.created_at, json.dumps(asdict(job))),
        )

    def job(self, job_id: str) -> Job | None:
        row = self._execute("SELECT body FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return Job(**json.loads(row[0])) if row else None

    def unfinished_jobs(self) -> list[Job]:
        rows = self._execute("SELECT body FROM jobs ORDER BY created_at").fetchall()
        jobs = [Job(**json.loads(row[0])) for row in rows]
        return [job for job in jobs if job.state in ("queued", "running")]

    def last_job(self) -> Job | None:
        row = self._execute("SELECT body FROM jobs ORDER BY created_at DESC LIMIT 1").fetchone()
        return Job(**json.loads(row[0])) if row else None

    def close(self) -> None:
        self._connection.close()
