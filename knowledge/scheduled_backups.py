"""Backups on a schedule: a periodic task of the job queue (BACKUP_SCHEDULE) writes the same archive as
GET /backup into BACKUP_DIR and keeps the newest BACKUP_KEEP.

Every worker runs the queue's periodic tasks, so at the scheduled minute each may try: the first takes a file
lock in BACKUP_DIR and writes, the others find the lock held or an archive of this minute and skip. An archive
appears under its final name only once complete (written beside it, then renamed), so whatever is there can be
restored, and the newest one's time is the last success (knowledge/metrics.py reads it at scrape time). `due` says
when the newest backup should have been taken, so that an alert follows the schedule, whatever it is.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from filelock import FileLock, Timeout
from huey import crontab

from knowledge.backup import write_backup
from knowledge.services import Services

log = logging.getLogger(__name__)
PREFIX, SUFFIX = "dnaforca-rag-", ".tar.gz"
STAMP = "%Y%m%dT%H%M%SZ"
# A backup not written this long after its scheduled minute was missed.
GRACE = timedelta(hours=1)


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


def schedule_test(schedule: str) -> Callable[[datetime], bool] | None:
    """BACKUP_SCHEDULE as the job queue reads it: huey's crontab, matched against UTC times; None when off."""
    if schedule.lower() in ("off", ""):
        return None
    minute, hour, day, month, weekday = schedule.split(" ")
    return crontab(minute, hour, day, month, weekday)


def due(schedule: str, now: float, since: float) -> float | None:
    """When the newest backup should have been taken by `now`: the schedule's latest minute at least GRACE before
    `now` and not before `since` (when the server started: earlier minutes may have had no worker); 0 when there is
    none, None when backups are off."""
    matches = schedule_test(schedule)
    if matches is None:
        return None
    _, _, day, month, weekday = schedule.split(" ")
    matches_day = crontab("*", "*", day, month, weekday)
    start = datetime.fromtimestamp(since, UTC).replace(tzinfo=None)
    moment = (datetime.fromtimestamp(now, UTC) - GRACE).replace(tzinfo=None, second=0, microsecond=0)
    while moment >= start:  # day by day, then minute by minute within a day the schedule names
        if not matches_day(moment):
            moment = moment.replace(hour=0, minute=0) - timedelta(minutes=1)
            continue
        if matches(moment):
            return moment.replace(tzinfo=UTC).timestamp()
        moment -= timedelta(minutes=1)
    return 0.0
