"""Ingestion jobs run one at a time on a background thread; their state lives in the catalogue."""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from pathlib import Path

from core.catalog import Catalog, Job
from core.ingest import Ingestor, Progress, result_dicts

log = logging.getLogger(__name__)

# Progress is written to SQLite at most this often (and always when a file finishes).
SAVE_INTERVAL_SECONDS = 0.5


class JobRunner:
    def __init__(self, catalog: Catalog, ingestor: Ingestor):
        self._catalog = catalog
        self._ingestor = ingestor
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="ingestion-jobs", daemon=True)
            self._thread.start()
            self._requeue_interrupted()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._thread = None

    def submit(self, files: list[str] | None = None) -> Job:
        """Queue a run over the given files (relative to MATERIALS_DIR), or over the whole folder."""
        job = Job(id=uuid.uuid4().hex, request={"files": files})
        self._catalog.save_job(job)
        self._queue.put(job.id)
        return job

    def wait(self, job_id: str, timeout: float = 600) -> Job:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self._catalog.job(job_id)
            if job and job.state in ("completed", "failed"):
                return job
            time.sleep(0.05)
        raise TimeoutError(f"Job {job_id} did not finish in {timeout} s")

    def _requeue_interrupted(self) -> None:
        # Ingestion is idempotent, so a job cut short by a restart is simply run again.
        for job in self._catalog.unfinished_jobs():
            log.info("Re-queueing job %s interrupted by a restart", job.id)
            self._queue.put(job.id)

    def _work(self) -> None:
        while (job_id := self._queue.get()) is not None:
            job = self._catalog.job(job_id)
            if job is not None:
                self._run(job)

    def _run(self, job: Job) -> None:
        job.state, job.started_at = "running", time.time()
        self._catalog.save_job(job)
        last_save = 0.0

        def report(progress: Progress) -> None:
            nonlocal last_save
            job.files_total, job.files_done = progress.files_total, progress.files_done
            job.chunks_total, job.chunks_done = progress.chunks_total, progress.chunks_done
            job.current_file = progress.current_file
            if time.monotonic() - last_save >= SAVE_INTERVAL_SECONDS or progress.current_file is None:
                self._catalog.save_job(job)
                last_save = time.monotonic()

        try:
            files = job.request.get("files")
            if files:
                root = self._ingestor.materials_dir
                results = self._ingestor.ingest([root / Path(name) for name in files], report)
            else:
                results = self._ingestor.sync(report)
            job.results, job.state = result_dicts(results), "completed"
        except Exception as error:  # the job records why it stopped; the runner keeps serving
            log.exception("Job %s failed", job.id)
            job.state, job.error = "failed", f"{type(error).__name__}: {error}"
        job.finished_at, job.current_file = time.time(), None
        self._catalog.save_job(job)
