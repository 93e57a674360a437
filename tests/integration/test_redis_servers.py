"""Two RAG server processes on one Redis: a conversation started on one continues on the other."""

from __future__ import annotations

import shutil
from contextlib import ExitStack

import httpx
import pytest

from core.contracts import THREAD_HEADER
from core.redis_checkpoint import RedisSaver
from tests.conftest import AUTH, SAMPLES
from tests.integration.conftest import wait_for_rag_job
from tests.support.processes import RAG_APP, server_environment, uvicorn_process


@pytest.fixture
def two_servers(tmp_path, redis_url, redis_prefix):
    data_dir = tmp_path / "data"
    shutil.copytree(SAMPLES, data_dir / "materials")
    environment = server_environment(data_dir, REDIS_URL=redis_url, REDIS_PREFIX=redis_prefix)
    with ExitStack() as stack:
        urls = [stack.enter_context(uvicorn_process(RAG_APP, environment, tmp_path / f"server-{name}.log"))
                for name in ("a", "b")]
        job = httpx.post(f"{urls[0]}/process-materials", headers=AUTH).json()
        assert wait_for_rag_job(urls[1], job["job_id"])["state"] == "completed"
        yield urls


def test_a_conversation_continues_on_another_server_process(two_servers, redis_url, redis_prefix):
    server_a, server_b = two_servers
    headers = {**AUTH, THREAD_HEADER: "aluno-9:conversa-1"}
    first = httpx.post(f"{server_a}/rag/invoke", json={"input": {"question": "Quantas repetições para hipertrofia?"}},
                       headers=headers, timeout=60)
    second = httpx.post(f"{server_b}/rag/invoke", json={"input": {"question": "E para força máxima?"}},
                        headers=headers, timeout=60)
    assert first.status_code == second.status_code == 200
    # Whichever server's worker ran the job, both see the index it built (the other reloads it).
    assert first.json()["output"]["sources"] and second.json()["output"]["sources"]
    # Server B rewrote the follow-up from the turn server A had: the conversation came through Redis.
    assert second.json()["output"]["standalone_question"] == "Quantas repetições para hipertrofia? E para força máxima?"

    chat = {**AUTH, THREAD_HEADER: "aluno-9:chat-1"}
    for url, text in ((server_a, "Quanto tempo devo dormir por noite?"), (server_b, "E quanta proteína por dia?")):
        response = httpx.post(f"{url}/chat/invoke", json={"input": {"messages": [{"type": "human", "content": text}]}},
                              headers=chat, timeout=60)
        assert response.status_code == 200
    saver = RedisSaver.from_url(redis_url, prefix=redis_prefix)
    latest = saver.get_tuple({"configurable": {"thread_id": "aluno-9:chat-1"}})
    messages = latest.checkpoint["channel_values"]["messages"]
    assert [message.type for message in messages] == ["human", "ai", "human", "ai"]
    assert messages[0].content == "Quanto tempo devo dormir por noite?"
    status = httpx.get(f"{server_b}/status", headers=AUTH).json()["stores"]
    assert status["checkpoints"] == "redis" and status["query_cache"] == "redis" and status["jobs"].startswith("redis")
    saver.close()
