"""Drive syncs on a Huey queue of the API server: on request (POST /drive/sync) and on a schedule (a periodic
task every minute runs one when DRIVE_SYNC_INTERVAL_MINUTES have passed since the last). Each API-server
process runs a consumer thread; a lease lock (Redis, or a file lock without Redis) lets one sync run at a
time across processes and replicas. A killed sync's Redis lease lapses after LOCK_LEASE_SECONDS."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from filelock import FileLock, Timeout
from huey import crontab
from redis.exceptions import LockError
from sqlalchemy.orm import Session, sessionmaker

from core.queue import InlineConsumer, make_huey
from core.redis_client import UNAVAILABLE, sync_client
from core.settings import Settings
from servers.api.drive.client import DriveClient
from servers.api.drive.credentials import load_credentials
from servers.api.drive.store import LAST_RUN, DriveStore
from servers.api.drive.sync import DriveSync, KnowledgeBase, Report

log = logging.getLogger(__name__)

LOCK_LEASE_SECONDS = 60


@contextmanager
def sync_lock(settings: Settings) -> Iterator[bool]:
    """True while this process holds the one sync slot; False when another sync runs."""
    if not settings.redis_url:
        lock = FileLock(settings.data_dir / "drive-sync.lock", timeout=0)
        try:
            lock.acquire()
        except Timeout:
            yield False
            return
        try:
            yield True
        finally:
            lock.release()
        return
    client = sync_client(settings.redis_url, cluster=settings.redis_cluster)
    lock = client.lock(f"{settings.redis_prefix}:drive:sync", timeout=LOCK_LEASE_SECONDS, thread_local=False)
    if not lock.acquire(blocking=False):
        yield False
        return
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(LOCK_LEASE_SECONDS / 3):
            try:
                lock.extend(LOCK_LEASE_SECONDS, replace_ttl=True)
            except (LockError, *UNAVAILABLE) as error:
                log.warning("Could not renew the Drive sync lock: %s", error)

    keeper = threading.Thread(target=renew, name="drive-sync-lock", daemon=True)
    keeper.start()
    try:
        yield True
    finally:
        stop.set()
        keeper.join()
        with contextlib.suppress(LockError):  # the lease ran out meanwhile
            lock.release()
        client.close()


class DriveQueue:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session]):
        self.settings, self.store = settings, DriveStore(sessions)
        self.huey = make_huey(settings, "drive", settings.data_dir / "drive-queue.sqlite3")
        self._task = self.huey.task(name="drive_sync")(self.sync)
        self.huey.periodic_task(crontab(minute="*"), name="drive_schedule")(self.tick)
        self._consumer: InlineConsumer | None = None
        self._starting = threading.Lock()

    def start_inline(self) -> None:
        with self._starting:
            if self._consumer is None:
                self._consumer = InlineConsumer(self.huey, workers=1, worker_type="thread", periodic=True,
                                                max_delay=1.0, shutdown_timeout=5.0)
                self._consumer.start()

    def stop_inline(self) -> None:
        if self._consumer is not None:
            self._consumer.stop(graceful=True)
            self._consumer = None

    def request(self, trigger: str = "manual") -> None:
        """Queue a sync; any process's consumer runs it (this one's starts if Drive was set up after start-up)."""
        self._task(trigger)
        self.start_inline()

    def last_run(self) -> dict | None:
        return self.store.get(LAST_RUN)

    @staticmethod
    def is_running(last: dict | None) -> bool:
        """Whether that run is still going (a killed one stops beating)."""
        return bool(last and last["state"] == "running" and time.time() - last["beat_at"] < LOCK_LEASE_SECONDS)

    def next_run(self) -> float | None:
        """When the schedule runs the next sync (None: no schedule, or Drive not configured)."""
        minutes = self.settings.drive_sync_interval_minutes
        if not minutes or not self.store.folders():
            return None
        last = self.last_run()
        return last["started_at"] + minutes * 60 if last else time.time()

    def tick(self) -> None:
        next_run = self.next_run()
        if next_run is not None and next_run <= time.time():
            self.sync("scheduled")

    def sync(self, trigger: str) -> Report | None:
        with sync_lock(self.settings) as held:
            if not held:
                log.info("A Drive sync is already running; this %s one is skipped", trigger)
                return None
            if trigger == "scheduled" and (self.next_run() or 0) > time.time():
                return None  # another process ran it a moment ago
            knowledge = None
            try:
                drive = DriveClient.from_settings(self.settings, load_credentials(self.settings))
                knowledge = KnowledgeBase(self.settings)
                return DriveSync(drive, knowledge, self.store, self.settings.max_upload_bytes).run(trigger)
            except Exception as error:  # not configured, bad credentials: shown by /drive/status
                log.warning("Drive sync could not start: %s", error)
                report = Report(trigger, state="failed", finished_at=time.time(), error=str(error))
                self.store.put(LAST_RUN, report.__dict__)
                return report
            finally:
                if knowledge is not None:
                    knowledge.close()
