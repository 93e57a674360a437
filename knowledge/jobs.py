"""Ingestion jobs on a Huey queue (core/queue.py: Redis when REDIS_URL is set, SQLite under DATA_DIR otherwise).

The same task code runs in a worker thread inside the RAG server (INLINE_WORKER, the embedded default)
or in separate `dnaforca worker` processes. A job's state and progress live in the catalogue, where
`GET /jobs/{id}` reads them. Huey hands a task to one worker and forgets it, so a worker that dies
mid-job would lose it: running jobs therefore beat a heartbeat, and any worker (at start and then every
minute) puts a job whose heartbeat stopped for JOB_LEASE_SECONDS back on the queue. Ingestion is
idempotent, so the retry completes what is left without duplicating a chunk. One ingestion runs at a
time per DATA_DIR (a file lock), whichever worker holds it.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from pathlib import Path

from filelock import FileLock
from huey import crontab
from huey.consumer import Consumer

from core.logs import RequestContext, current_request, enter_request, leave_request, new_request_id
from core.queue import InlineConsumer, make_huey
from core.redis_client import UNAVAILABLE, describe
from core.settings import Settings
from knowledge.catalog import Job
from knowledge.ingest import Progress, result_dicts
from knowledge.metrics import BACKUPS, JOBS, record_job
from knowledge.scheduled_backups import schedule_test, take_backup
from knowledge.services import get_services

log = logging.getLogger(__name__)

FINISHED = ("completed", "failed")
# Progress is written to the catalogue at most this often (and always when a file finishes).
SAVE_INTERVAL_SECONDS = 0.5


class QueueUnavailable(RuntimeError):
    """The job queue's storage (Redis) cannot be reached: the job was not accepted."""


class JobQueue:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.huey = make_huey(settings, "jobs", settings.queue_path)
        self._task = self.huey.task(name="ingest")(self.run)
        self.huey.periodic_task(crontab(minute="*"), name="requeue_stalled")(self.requeue_stalled)
        if (backup_minutes := schedule_test(settings.backup_schedule)) is not None:
            self.huey.periodic_task(backup_minutes, name="scheduled_backup")(self.scheduled_backup)
        self._inline: InlineConsumer | None = None

    @property
    def backend(self) -> str:
        return f"redis ({describe(self.settings.redis_url)})" if self.settings.redis_url else "sqlite"

    def consumer(self, inline: bool = False) -> Consumer:
        """One worker thread: ingestions take turns on the index anyway (file lock)."""
        kind = InlineConsumer if inline else Consumer
        return kind(self.huey, workers=1, worker_type="thread", periodic=True, max_delay=1.0, shutdown_timeout=5.0)

    def start_inline(self) -> None:
        """Work on jobs from a thread of this process (the embedded default)."""
        try:
            self.requeue_stalled()
        except UNAVAILABLE as error:  # the periodic check retries once Redis is back
            log.warning("Could not look for stalled jobs: %s", error)
        self._inline = self.consumer(inline=True)
        self._inline.start()

    def stop_inline(self) -> None:
        if self._inline is not None:
            # Idle threads stop within a second; a job still running after 5 s is left to die with the
            # process and is retried by the next worker once its lease runs out.
            self._inline.stop(graceful=True)
            self._inline = None

    def depth(self) -> int:
        """Tasks waiting in the queue (ingestions and due periodic tasks)."""
        return self.huey.pending_count()

    # Producer side.
    def submit(self, files: list[str] | None = None, reindex: bool = False) -> Job:
        """Queue a run over the given files (relative to MATERIALS_DIR), or over the whole folder
        (`reindex`: after emptying the index, so every material is embedded again)."""
        catalog = get_services().catalog
        # The request that queued the job names it in the job's log lines too.
        context = current_request()
        request = {"files": files, "reindex": reindex} | ({"request_id": context.request_id} if context else {})
        job = Job(id=uuid.uuid4().hex, request=request)
        catalog.save_job(job)
        try:
            self._task(job.id)
        except UNAVAILABLE as error:
            job.state, job.error, job.finished_at = "failed", f"The job queue is unavailable: {error}", time.time()
            catalog.save_job(job)
            raise QueueUnavailable(f"The job queue ({self.backend}) is unreachable: {error}") from error
        return job

    def wait(self, job_id: str, timeout: float = 600) -> Job:
        catalog = get_services().catalog
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = catalog.job(job_id)
            if job and job.state in FINISHED:
                return job
            time.sleep(0.05)
        raise TimeoutError(f"Job {job_id} did not finish in {timeout} s")

    def requeue_stalled(self) -> list[str]:
        """Put back jobs whose worker died (silent heartbeat) or that never reached the queue."""
        catalog, now = get_services().catalog, time.time()
        lease, requeued = self.settings.job_lease_seconds, []
        pending = {task.args[0] for task in self.huey.pending() if task.args}
        for job in catalog.unfinished_jobs():
            last_sign = job.heartbeat_at or job.started_at or job.created_at
            if now - last_sign < lease or (job.state == "queued" and job.id in pending):
                continue
            if job.attempts >= self.settings.job_max_attempts:
                job.state, job.finished_at = "failed", now
                job.error = f"The worker stopped {job.attempts} times while running this job"
                catalog.save_job(job)
                JOBS.labels("failed").inc()
                continue
            log.warning("Re-queueing job %s (attempt %d: its worker stopped)", job.id, job.attempts + 1)
            job.state, job.current_file = "queued", None
            catalog.save_job(job)
            self._task(job.id)
            requeued.append(job.id)
        return requeued

    # Worker side.
    def scheduled_backup(self) -> None:
        """BACKUP_SCHEDULE's task (knowledge/scheduled_backups.py)."""
        started = time.monotonic()
        try:
            archive = take_backup(get_services())
        except Exception:  # the metric and the alert on the last success tell the operator
            BACKUPS.labels("failed").inc()
            log.exception("The scheduled backup failed")
            return
        BACKUPS.labels("completed" if archive else "skipped").inc()
        if archive:
            log.info("Scheduled backup written to %s in %.1f s", archive, time.monotonic() - started)

    def run(self, job_id: str) -> None:
        request_id = None
        job = get_services().catalog.job(job_id)
        if job is not None:
            request_id = job.request.get("request_id")
        token = enter_request(RequestContext(new_request_id(request_id)))
        try:
            self._run(job_id)
        finally:
            leave_request(token)

    def _run(self, job_id: str) -> None:
        services = get_services()
        catalog = services.catalog
        with FileLock(self.settings.data_dir / "ingest.lock"):
            job = catalog.job(job_id)
            if job is None or job.state in FINISHED:
                return  # delivered twice (a requeue raced a slow worker): the first delivery did it
            job.state, job.started_at, job.heartbeat_at = "running", time.time(), time.time()
            job.attempts += 1
            catalog.save_job(job)
            with _Heartbeat(job, catalog, self.settings.job_lease_seconds / 4) as beat:
                try:
                    files = job.request.get("files")
                    ingestor = services.ingestor
                    if files:
                        root = ingestor.materials_dir
                        results = ingestor.ingest([root / Path(name) for name in files], beat.report)
                    else:
                        if job.request.get("reindex"):
                            ingestor.reset()
                        results = ingestor.sync(beat.report)
                    job.results, job.state = result_dicts(results), "completed"
                except Exception as error:  # the job records why it stopped; the worker keeps serving
                    log.exception("Job %s failed", job.id)
                    job.state, job.error = "failed", f"{type(error).__name__}: {error}"
            job.finished_at, job.current_file = time.time(), None
            catalog.save_job(job)
            record_job(job.state, job.finished_at - job.started_at, job.results or [])
            log.info("Job %s %s in %.1f s (%d files)", job.id, job.state, job.finished_at - job.started_at,
                     len(job.results or []))


class _Heartbeat:
    """Saves the job's progress and heartbeat while it runs, from a thread of its own."""

    def __init__(self, job: Job, catalog, interval: float):
        self.job, self.catalog, self.interval = job, catalog, max(interval, 0.1)
        self._lock, self._stop = threading.Lock(), threading.Event()
        self._last_save = 0.0
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{job.id}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _save(self) -> None:
        with self._lock:
            self.job.heartbeat_at = time.time()
            self.catalog.save_job(self.job)
            self._last_save = time.monotonic()

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            self._save()

    def report(self, progress: Progress) -> None:
        job = self.job
        with self._lock:
            job.files_total, job.files_done = progress.files_total, progress.files_done
            job.chunks_total, job.chunks_done = progress.chunks_total, progress.chunks_done
            job.current_file = progress.current_file
        if time.monotonic() - self._last_save >= SAVE_INTERVAL_SECONDS or progress.current_file is None:
            self._save()
