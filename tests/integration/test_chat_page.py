"""The API server's reference chat page (/app), driven in headless Chromium against both servers as processes:
log in, a streamed answer with its sources, a follow-up from the conversation's memory, a RAG server stopped
mid-answer."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from core.redis_checkpoint import RedisSaver
from tests.conftest import REPO, delete_redis_keys, require
from tests.integration.conftest import rag_server_on_echo_model
from tests.support.processes import API_APP, server_environment, uvicorn_process

E2E = REPO / "tests" / "e2e"
# Screenshots are kept for people to look at, outside the repository.
SCREENS = Path(os.environ.get("SCREENSHOT_DIR", "/work/screens"))
PASSWORD = "senha-forte-123"
STUDENT = "aluna@example.com"


@pytest.fixture(scope="module")
def servers(tmp_path_factory, redis_url):
    """RAG server (echo model, 2 s per answer, memory in Redis) and API server, as uvicorn processes."""
    require(shutil.which("chromium") is not None, "Debian's chromium is not installed")
    require((E2E / "node_modules" / "playwright-core").is_dir(), "run `npm ci` in tests/e2e")
    root = tmp_path_factory.mktemp("chat-page")
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    common = {"REDIS_URL": redis_url, "REDIS_PREFIX": prefix}
    try:
        with rag_server_on_echo_model(root / "rag", delay=2.0, **common) as (rag, rag_process):
            api_environment = server_environment(root / "api", **common, RAG_SERVER_URL=rag)
            subprocess.run([sys.executable, "-m", "servers.cli", "migrate"], cwd=REPO, env=api_environment, check=True)
            with uvicorn_process(API_APP, api_environment, root / "api.log") as api:
                registered = httpx.post(f"{api}/auth/register", json={"email": STUDENT, "password": PASSWORD})
                assert registered.status_code == 201, registered.text
                yield {"api": api, "rag_process": rag_process, "redis_url": redis_url, "prefix": prefix}
    finally:
        delete_redis_keys(redis_url, f"{prefix}*")


def drive_chat_page(servers) -> dict:
    """Runs tests/e2e/chat_page.mjs; stops the RAG server (SIGKILL) when the script is mid-answer."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    script = subprocess.Popen(["node", "chat_page.mjs", servers["api"], STUDENT, PASSWORD, str(SCREENS)], cwd=E2E,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        for line in script.stdout:
            lines.append(line)
            if line.strip() == "stop-rag":
                servers["rag_process"].kill()
                servers["rag_process"].wait(timeout=10)
                script.stdin.write("stopped\n")
                script.stdin.flush()
        script.wait(timeout=30)
    finally:
        if script.poll() is None:
            script.kill()
    assert lines, script.stderr.read()
    return json.loads(lines[-1])


def test_chat_page_streams_cited_answers_and_shows_a_stopped_rag_server(servers):
    report = drive_chat_page(servers)
    assert "error" not in report, report["error"]

    # The page runs under its own policy: nothing but this server, and nothing the policy had to block.
    assert "default-src 'self'" in report["csp"]
    assert report["csp_violations"] == [] and report["page_errors"] == []
    assert report["failed_responses"] == ["401 /auth/login"]  # the wrong password, nothing else
    assert report["wrong_password"] == "E-mail ou senha incorretos."
    assert report["account"] == STUDENT

    first = report["first"]
    assert first["state"] == "done"
    assert first["updates_before"] >= 3, "the answer should appear token by token before `done`"
    assert first["answer"].startswith("Resposta de teste")
    # Sources with their place in the file, and [n] markers that lead to them.
    assert first["sources"] and all(source["file"] and source["location"] for source in first["sources"])
    assert {"#" + source["id"] for source in first["sources"]} >= set(first["markers"]) and first["markers"]
    assert all(source["link"].startswith("/materials/") for source in first["sources"])  # no Drive link here

    follow_up = report["follow_up"]
    assert follow_up["state"] == "done" and follow_up["updates_before"] >= 3
    first_body, follow_up_body, last_body = report["chat_bodies"]
    assert first_body["conversation_id"] is None
    assert follow_up_body["conversation_id"] is not None
    assert report["conversations_listed"] == ["Quantas séries por semana para hipertrofia?"]
    assert report["reopened"] == ["user", "assistant", "user", "assistant"]
    assert report["after_new_conversation"] == 0 and last_body["conversation_id"] is None
    # The follow-up reached the RAG server in the conversation's thread, which holds both turns.
    me = httpx.post(f"{servers['api']}/auth/login", data={"username": STUDENT, "password": PASSWORD}).json()
    user = httpx.get(f"{servers['api']}/auth/me", headers={"Authorization": f"Bearer {me['access_token']}"}).json()
    saver = RedisSaver.from_url(servers["redis_url"], prefix=servers["prefix"])
    thread_id = f"{user['id']}.{follow_up_body['conversation_id']}"
    checkpoint = saver.get_tuple({"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}).checkpoint
    assert [message.type for message in checkpoint["channel_values"]["messages"]] == ["human", "ai", "human", "ai"]

    stopped = report["stopped"]
    assert stopped["state"] == "error"
    assert stopped["failure"].startswith("Não foi possível concluir a resposta.")
    assert "RAG server" in stopped["failure"]  # the server's detail follows
    for name in ("empty", "answer", "follow-up", "rag-stopped"):
        assert (SCREENS / f"chat-page-{name}.png").stat().st_size > 10_000
