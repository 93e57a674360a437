"""What the RAG server reads from shared state when /metrics is scraped: the index, the job queue, the backups."""

from __future__ import annotations

import time
from collections import Counter

from core.metrics import Exposition
from knowledge.jobs import JobQueue
from knowledge.metrics import StateCollector
from knowledge.scheduled_backups import due, newest, schedule_test
from knowledge.services import Services


def rag_exposition(services: Services, jobs: JobQueue) -> Exposition:
    settings = services.settings
    scheduled = schedule_test(settings.backup_schedule) is not None
    started = time.time()

    def unfinished_jobs() -> dict[str, float]:
        states = Counter(job.state for job in services.catalog.unfinished_jobs())
        return {"queued": states["queued"], "running": states["running"]}

    def last_backup() -> float | None:
        archive = newest(settings.backups_path)
        return (archive.taken_at if archive else 0.0) if scheduled else None

    def backup_due() -> float | None:
        return due(settings.backup_schedule, time.time(), since=started)

    def last_backup_size() -> float | None:
        archive = newest(settings.backups_path)
        return archive.size if archive else None

    return Exposition([StateCollector({
        "dnaforca_index_chunks": ("Chunks in the vector index", services.index.count),
        "dnaforca_index_materials": ("Materials in the catalogue, by status", services.catalog.status_counts),
        "dnaforca_job_queue_depth": ("Tasks waiting in the job queue", jobs.depth),
        "dnaforca_jobs_unfinished": ("Ingestion jobs queued or running (the catalogue)", unfinished_jobs),
        "dnaforca_backup_last_success_timestamp_seconds": (
            "When the newest scheduled backup in BACKUP_DIR was taken (0: none yet)", last_backup),
        "dnaforca_backup_due_timestamp_seconds": (
            "When the newest scheduled backup should have been taken: BACKUP_SCHEDULE's latest minute an hour ago or "
            "more, since this server started (0: none yet)", backup_due),
        "dnaforca_backup_last_size_bytes": ("Size of the newest scheduled backup", last_backup_size),
    })])
