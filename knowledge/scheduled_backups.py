"""Backups on a schedule: a periodic task of the job queue (BACKUP_SCHEDULE) writes the same archive as
GET /backup into BACKUP_DIR and keeps the newest BACKUP_KEEP.

Every worker runs the queue's periodic tasks, so at the scheduled minute each may try: the first takes a file
lock in BACKUP_DIR and writes, the others find the lock held or an archive of this minute and skip. An archive
appears under its final name only once complete (written beside it, then renamed), so whatever is there can be
restored, and the newest one's time is the last success (knowledge/metrics.py reads it at scrape time).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from knowledge.backup import write_backup
from knowledge.services import Services

log = logging.getLogger(__name__)
PREFIX, SUFFIX = "dnaforca-rag-", ".tar.gz"
STAMP = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class Archive:
    path: Path
    taken_at: float  # seconds since the epoch, from the name (a copied file keeps its time)
    size: int


def archives(folder: Path) -> list[Archive]:
    """The complete scheduled backups in `folder`, oldest first."""
    found = []
    for path in folder.glob(f"{PREFIX}*{SUFFIX}"):
        stamp = path.name.removeprefix(PREFIX).removesuffix(SUFFIX)
        try:
            taken = datetime.strptime(stamp, STAMP).replace(tzinfo=UTC).timestamp()
            found.append(Archive(path, taken, path.stat().st_size))
        except (ValueError, FileNotFoundError):  # not ours, or removed meanwhile by the retention of another worker
            continue
    return sorted(found, key=lambda archive: archive.taken_at)


def newest(folder: Path) -> Archive | None:
    found = archives(folder)
    return found[-1] if found else None


def take_backup(services: Services, now: float | None = None) -> Path | None:
    """Write one backup into BACKUP_DIR and apply the retention; None when another worker took this minute's."""
    settings = services.settings
    folder = settings.backups_path
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time() if now is None else now
    try:
        with FileLock(folder / ".backup.lock", timeout=0):
            latest = newest(folder)
            if latest is not None and latest.taken_at >= now - now % 60:
                return None
            name = f"{PREFIX}{datetime.fromtimestamp(now, UTC).strftime(STAMP)}{SUFFIX}"
            partial = folder / f".{name}.partial"
            try:
                write_backup(services, partial)
                os.replace(partial, folder / name)
            finally:
                partial.unlink(missing_ok=True)
            prune(folder, settings.backup_keep)
            return folder / name
    except Timeout:
        return None


def prune(folder: Path, keep: int) -> list[Path]:
    """Remove all but the newest `keep` backups; returns what was removed."""
    removed = [archive.path for archive in archives(folder)[:-keep]]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed
