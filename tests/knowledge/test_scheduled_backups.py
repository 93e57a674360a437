"""Scheduled backups: one archive per scheduled minute whoever runs it, the newest BACKUP_KEEP kept, the same
archive as GET /backup (restorable), failures counted."""

from __future__ import annotations

import tarfile
import time
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY

from knowledge.scheduled_backups import archives, due, newest, take_backup

NOON = 1_800_000_000 - 1_800_000_000 % 86400 + 12 * 3600  # a whole minute, in UTC


@pytest.fixture
def indexed(services, materials):
    services.ingestor.sync()
    return services


def test_a_scheduled_backup_is_the_rag_archive_and_one_per_minute(indexed):
    first = take_backup(indexed, now=NOON)
    again = take_backup(indexed, now=NOON + 30)  # another worker, same scheduled minute
    assert again is None
    assert first.name == "dnaforca-rag-20270115T120000Z.tar.gz" and first.parent == indexed.settings.backups_path
    with tarfile.open(first) as tar:
        assert {"catalog.sqlite3", "materials", "chroma"} <= set(tar.getnames())
    assert newest(indexed.settings.backups_path).taken_at == NOON
    assert not list(indexed.settings.backups_path.glob("*.partial"))


def test_only_the_newest_backups_are_kept(indexed, monkeypatch):
    from core.settings import get_settings

    monkeypatch.setenv("BACKUP_KEEP", "2")
    get_settings.cache_clear()
    indexed.settings = get_settings()
    folder = indexed.settings.backups_path
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("not a backup: left alone")
    for minute in range(4):
        take_backup(indexed, now=NOON + 60 * minute)
    assert [archive.taken_at for archive in archives(folder)] == [NOON + 120, NOON + 180]
    assert (folder / "notes.txt").exists()


def test_a_failed_backup_is_counted_and_leaves_no_archive(indexed, monkeypatch):
    from core.settings import get_settings
    from knowledge.jobs import JobQueue

    monkeypatch.setenv("CHROMA_SERVER_URL", "http://127.0.0.1:9")  # vectors elsewhere: not ours to back up
    get_settings.cache_clear()
    indexed.settings = get_settings()
    failed = REGISTRY.get_sample_value("dnaforca_backups_total", {"outcome": "failed"})
    JobQueue(indexed.settings).scheduled_backup()
    assert REGISTRY.get_sample_value("dnaforca_backups_total", {"outcome": "failed"}) == failed + 1
    assert archives(indexed.settings.backups_path) == []


def test_the_schedule_is_a_periodic_task_unless_off(settings, monkeypatch):
    from core.settings import get_settings
    from knowledge.jobs import JobQueue

    def periodic(schedule: str) -> set[str]:
        monkeypatch.setenv("BACKUP_SCHEDULE", schedule)
        get_settings.cache_clear()
        return {task.name for task in JobQueue(get_settings()).huey._registry.periodic_tasks}

    assert "scheduled_backup" in periodic("15 2 * * 0")
    assert "scheduled_backup" not in periodic("off")


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@pytest.mark.parametrize(("schedule", "now", "expected"), [
    ("0 3 * * *", "2026-11-27 10:00:30", "2026-11-27 03:00"),  # daily: today's
    ("0 3 * * *", "2026-11-27 03:40", "2026-11-26 03:00"),  # today's may still be running: yesterday's
    ("15 2 * * 0", "2026-11-27 10:00", "2026-11-22 02:15"),  # weekly, on Sundays
    ("0 0 1 * *", "2026-11-27 10:00", "2026-11-01 00:00"),  # monthly
    ("*/30 8-18 * * 1-5", "2026-11-28 12:00", "2026-11-27 18:30"),  # office hours: Saturday looks back to Friday
    ("* * * * *", "2026-11-27 10:00:59", "2026-11-27 09:00"),  # every minute: an hour's grace all the same
])
def test_a_backup_is_due_at_the_schedules_latest_minute_an_hour_ago(schedule, now, expected):
    assert due(schedule, utc(now), since=utc("2026-10-01 00:00")) == utc(expected)


def test_nothing_is_due_before_the_server_started_nor_when_backups_are_off():
    assert due("0 3 * * *", utc("2026-11-27 10:00"), since=utc("2026-11-27 03:01")) == 0.0
    assert due("0 0 1 1 *", utc("2026-11-27 10:00"), since=utc("2026-01-01 00:01")) == 0.0  # 330 days read
    assert due("off", utc("2026-11-27 10:00"), since=0) is None


def test_a_schedule_that_is_not_cron_is_refused(monkeypatch):
    from pydantic import ValidationError

    from core.settings import Settings

    monkeypatch.setenv("BACKUP_SCHEDULE", "daily")
    with pytest.raises(ValidationError, match="five cron fields"):
        Settings()


def test_restore_command_brings_back_what_a_scheduled_backup_held(indexed, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from core.settings import get_settings
    from knowledge.services import build_services, use_services
    from servers.cli import app

    archive = take_backup(indexed, now=time.time())
    expected = [passage.id for passage in indexed.retriever.search("Quantas séries por semana?", 3)]
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "fresh"))
    get_settings.cache_clear()
    fresh = build_services(get_settings(), embeddings=indexed.embeddings)
    use_services(fresh)
    try:
        assert fresh.index.count() == 0
        result = CliRunner().invoke(app, ["restore", str(archive)])
        assert result.exit_code == 0, result.output
        assert [passage.id for passage in fresh.retriever.search("Quantas séries por semana?", 3)] == expected
        refused = CliRunner().invoke(app, ["restore", str(tmp_path / "fresh" / "catalog.sqlite3")])
    finally:
        use_services(indexed)
        fresh.catalog.close()
    assert refused.exit_code != 0 and "not a backup archive" in refused.output
