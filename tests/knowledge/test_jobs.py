"""Ingestion jobs on Huey: they survive restarts, and a killed worker's job is retried without duplicates."""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
import time

import pytest
from fastapi.testclient import TestClient
from redis.cluster import RedisCluster
from redis.crc import key_slot

from core.queue import ClusterStorage
from knowledge.jobs import JobQueue
from tests.conftest import AUTH, REPO


@pytest.fixture(params=["sqlite", "redis", "redis-cluster"])
def queue_settings(request):
    """Every backend: SqliteHuey under DATA_DIR (no REDIS_URL), RedisHuey, and Huey on a Redis Cluster."""
    fixture = {"sqlite": "settings", "redis": "redis_settings", "redis-cluster": "redis_cluster_settings"}
    return request.getfixturevalue(fixture[request.param])


@pytest.fixture
def queue_services(queue_settings, embeddings):
    from knowledge.services import build_services, use_services

    services = build_services(queue_settings, embeddings=embeddings)
    use_services(services)
    yield services
    use_services(None)
    services.catalog.close()


def test_a_queued_job_survives_a_server_restart(queue_services, monkeypatch):
    from servers.rag.app import create_app

    (queue_services.settings.materials_path / "treino.txt").write_text("Aquecimento: 10 minutos antes do treino.")
    monkeypatch.setenv("INLINE_WORKER", "false")  # the first server has no worker: the job waits in the queue
    from core.settings import get_settings

    get_settings.cache_clear()
    with TestClient(create_app(), headers=AUTH) as client:
        job_id = client.post("/process-materials").json()["job_id"]
        assert client.get(f"/jobs/{job_id}").json()["state"] == "queued"
    monkeypatch.setenv("INLINE_WORKER", "true")
    get_settings.cache_clear()
    with TestClient(create_app(), headers=AUTH) as client:  # a new server process picks the job up from the queue
        job = client.app.state.jobs.wait(job_id, timeout=60)
        assert (job.state, job.attempts, job.files_done) == ("completed", 1, 1)
        body = client.get(f"/jobs/{job_id}").json()
        assert (body["state"], body["attempts"]) == ("completed", 1) and body["heartbeat_at"] >= body["started_at"]


def test_a_stalled_job_is_requeued_then_failed_after_its_attempts(queue_services):
    queue, catalog = JobQueue(queue_services.settings), queue_services.catalog
    job = queue.submit(None)
    assert queue.requeue_stalled() == []  # fresh and queued: left alone

    job.state, job.attempts, job.heartbeat_at = "running", 1, time.time() - 3600  # its worker died an hour ago
    catalog.save_job(job)
    assert queue.requeue_stalled() == [job.id]
    assert catalog.job(job.id).state == "queued"
    assert [task.args[0] for task in queue.huey.pending()].count(job.id) == 2  # the original delivery + the retry

    job.state, job.attempts = "running", queue_services.settings.job_max_attempts
    catalog.save_job(job)
    assert queue.requeue_stalled() == []
    failed = catalog.job(job.id)
    assert failed.state == "failed" and "stopped 3 times" in failed.error


def test_on_a_redis_cluster_the_queue_lives_in_one_slot_and_its_schedule_script_runs(redis_cluster_settings):
    storage = JobQueue(redis_cluster_settings).huey.storage
    assert isinstance(storage, ClusterStorage) and isinstance(storage.conn, RedisCluster)
    keys = [storage.queue_key, storage.schedule_key, storage.result_key, storage.counter_key]
    assert len({key_slot(key.encode()) for key in keys}) == 1
    storage.enqueue(b"job")
    assert (storage.queue_size(), storage.dequeue(), storage.queue_size()) == (1, b"job", 0)
    storage.add_to_schedule(b"later", datetime.datetime.now() - datetime.timedelta(seconds=1))
    assert storage.read_schedule(datetime.datetime.now()) == [b"later"]  # the Lua script, on the queue's node
    storage.conn.close()


def _worker(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "servers.cli", "worker"], cwd=REPO, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def _lesson(number: int) -> str:
    paragraphs = [
        f"Aula {number}, parte {part}: na fase {part} do bloco {number}, faça {3 + part % 3} séries de "
        f"{6 + part % 7} repetições com {60 + part}% de uma repetição máxima e descanso de {90 + part} segundos. "
        "Controle a fase excêntrica, mantenha a coluna neutra e registre a carga no diário de treino. " * 3
        for part in range(24)
    ]
    return "\n\n".join(paragraphs)


def test_a_worker_killed_mid_job_is_retried_by_another_without_duplicate_chunks(redis_settings, embeddings):
    from knowledge.services import build_services, use_services

    services = build_services(redis_settings, embeddings=embeddings)
    use_services(services)
    try:
        names = [f"aula-{number}.txt" for number in range(1, 5)]
        for number, name in enumerate(names, start=1):
            (redis_settings.materials_path / name).write_text(_lesson(number))
        env = {**os.environ, "DATA_DIR": str(redis_settings.data_dir), "REDIS_URL": redis_settings.redis_url,
               "REDIS_PREFIX": redis_settings.redis_prefix, "JOB_LEASE_SECONDS": "2"}
        queue = JobQueue(redis_settings)
        job = queue.submit(names)

        first = _worker(env)
        deadline = time.monotonic() + 120
        while (current := services.catalog.job(job.id)).files_done < 1:  # one file in, the rest to go
            assert time.monotonic() < deadline and current.state != "completed"
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait()
        interrupted = services.catalog.job(job.id)
        assert interrupted.state == "running" and interrupted.files_done < len(names)

        time.sleep(2.5)  # the lease runs out: the next worker re-queues the job when it starts
        second = _worker(env)
        try:
            done = queue.wait(job.id, timeout=180)
        finally:
            second.send_signal(signal.SIGINT)
            second.wait(timeout=30)
    finally:
        use_services(None)

    assert (done.state, done.attempts, done.files_done, done.errors) == ("completed", 2, len(names), [])
    statuses = {result["file_name"]: result["status"] for result in done.results}
    assert "unchanged" in statuses.values()  # what the first worker finished was not embedded again
    materials = services.catalog.materials()
    assert len(materials) == len(names) and {m.status for m in materials} == {"indexed"}
    ids, _, _ = services.index.all_chunks()
    assert len(ids) == len(set(ids)) == sum(m.chunks for m in materials)
    services.catalog.close()


