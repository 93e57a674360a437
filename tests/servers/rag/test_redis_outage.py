"""A private redis-server stopped and restarted under a running RAG server: degrade, answer, recover."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
import redis

from core.contracts import THREAD_HEADER
from tests.conftest import indexed_app, require
from tests.support.processes import free_port

QUESTION = {"question": "Quanta proteína devo comer por dia?"}
CHAT = {"input": {"messages": [{"type": "human", "content": "Quanto tempo devo dormir por noite?"}]}}


class PrivateRedis:
    def __init__(self, port: int, folder):
        self.port, self.folder, self.process = port, folder, None
        self.url = f"redis://127.0.0.1:{port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(self.url, socket_connect_timeout=0.2).ping()
                return
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path):
    require(shutil.which("redis-server") is not None, "redis-server is not installed")
    server = PrivateRedis(free_port(), tmp_path)
    server.start()
    yield server
    if server.process.poll() is None:
        server.stop()


@pytest.fixture
def client(settings, private_redis, embeddings, monkeypatch):
    from core.settings import get_settings

    monkeypatch.setenv("REDIS_URL", private_redis.url)
    get_settings.cache_clear()
    with indexed_app(get_settings(), embeddings) as client:
        yield client


def test_redis_outage_degrades_then_recovers_by_itself(client, private_redis):
    thread = {THREAD_HEADER: "aluno-3:conversa-1"}
    assert client.get("/health").json() == {"status": "ok", "degraded": [], "checks": {"redis": "ok"}}
    assert client.post("/chat/invoke", json=CHAT, headers=thread).status_code == 200
    assert client.post("/query", json=QUESTION).json()["cached"] is False

    private_redis.stop()

    health = client.get("/health")
    assert health.status_code == 200
    assert health.json()["status"] == "degraded" and health.json()["degraded"] == ["redis"]
    assert health.json()["checks"]["redis"].startswith("unreachable")
    answer = client.post("/query", json=QUESTION)  # still answered, without the cache
    assert answer.status_code == 200 and answer.json()["sources"] and answer.json()["cached"] is False
    for path in ("/chat/invoke", "/rag/invoke"):
        body = CHAT if path == "/chat/invoke" else {"input": QUESTION}
        refused = client.post(path, json=body, headers=thread)
        assert refused.status_code == 503, path
        assert "Conversation memory is unavailable" in refused.json()["detail"]
    one_off = client.post("/chat/invoke", json=CHAT)  # no thread: it fails at its first checkpoint
    assert one_off.status_code == 503 and "Conversation memory is unavailable" in one_off.json()["detail"]
    streamed = client.post("/chat/stream", json=CHAT, headers=thread)
    assert streamed.status_code == 503  # refused before the stream starts, not an error event mid-answer
    queued = client.post("/process-materials")
    assert queued.status_code == 503 and "job queue" in queued.json()["detail"]
    assert client.get("/stats").json()["cache"]["errors"] >= 1

    private_redis.start()  # empty: nothing was persisted
    time.sleep(2.1)  # the cache rests for 2 s after a failure

    assert client.get("/health").json()["status"] == "ok"
    assert client.post("/chat/invoke", json=CHAT, headers=thread).status_code == 200
    assert client.post("/query", json=QUESTION).json()["cached"] is False
    assert client.post("/query", json=QUESTION).json()["cached"] is True
    job = client.post("/process-materials")
    assert job.status_code == 202
    assert client.app.state.jobs.wait(job.json()["job_id"], timeout=60).state == "completed"
