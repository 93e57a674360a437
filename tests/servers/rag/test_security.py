"""Who reaches the RAG server: the service token on every route that reads or changes stored data, questions
open only to this machine when bound to loopback, a Host allowlist, a refused public bind without a chosen
token, and bodies capped while they stream in."""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from core.settings import Settings
from servers.rag.app import create_app
from servers.rag.security import UnsafeBind
from tests.conftest import AUTH, REPO, SERVICE_TOKEN
from tests.support.processes import RAG_APP, server_environment, uvicorn_process, uvicorn_server

# Routes anyone may call: liveness, the API description and the form that trades the token for a playground pass.
OPEN = {"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/playground-login"}
QUESTION = {"input": {"question": "Quanta proteína devo comer por dia?"}}
CHAT = {"input": {"messages": [{"type": "human", "content": "Quanto tempo devo dormir?"}]}}


def route_table(app) -> list[tuple[str, str]]:
    return sorted({(method, route.path.replace("{config_hash}", "x").replace("{file_path:path}", "index.html")
                    .replace("{material_id}", "x").replace("{job_id}", "x").replace("{thread_id}", "x"))
                   for route in iter_route_contexts(app.routes) if isinstance(route.original_route, APIRoute)
                   for method in route.methods})


@pytest.fixture
def app(services):
    return create_app()


def test_every_route_but_health_and_the_docs_needs_the_service_token(app):
    with TestClient(app, client=("203.0.113.7", 5000)) as stranger:
        routes = route_table(app)
        refused = {(method, path): stranger.request(method, path).status_code for method, path in routes}
        wrong = stranger.get("/materials", headers={"Authorization": "Bearer not-the-token"})
    assert len(routes) > 80  # LangServe's routes are in the table too
    assert {route: code for route, code in refused.items() if route[1] not in OPEN and code != 401} == {}
    assert refused[("GET", "/health")] == 200 and wrong.status_code == 401


def test_questions_are_open_to_this_machine_only_when_bound_to_loopback(app, materials):
    with TestClient(app, client=("127.0.0.1", 5000)) as local:
        local.app.state.services.ingestor.sync()
        assert local.post("/query", json={"question": "O que é deload?"}).status_code == 200
        assert local.post("/ask/invoke", json=QUESTION).status_code == 200
        assert local.post("/chat-playground/invoke", json=CHAT).status_code == 200
        # Stored data and conversations are never open, even locally.
        for method, path in [("GET", "/materials"), ("POST", "/rag/invoke"), ("GET", "/stats"), ("GET", "/backup")]:
            assert local.request(method, path, json=QUESTION).status_code == 401, path
    public = create_app(Settings(rag_host="0.0.0.0", rag_service_token=SERVICE_TOKEN))
    with TestClient(public, client=("127.0.0.1", 5000)) as local:
        assert local.post("/query", json={"question": "O que é deload?"}).status_code == 401
        assert local.post("/query", json={"question": "O que é deload?"}, headers=AUTH).status_code == 200


def test_a_foreign_host_header_is_refused(app):
    with TestClient(app, headers=AUTH) as client:
        assert client.get("/health").status_code == 200
        rebound = client.get("/materials", headers={"Host": "attacker.example"})
    assert rebound.status_code == 400 and "host" in rebound.text.lower()


def test_a_public_bind_without_a_chosen_token_refuses_to_start(services, monkeypatch):
    monkeypatch.delenv("RAG_SERVICE_TOKEN")
    with pytest.raises(UnsafeBind, match="RAG_SERVICE_TOKEN"):
        create_app(Settings(rag_host="0.0.0.0"))
    environment = {k: v for k, v in os.environ.items() if k != "RAG_SERVICE_TOKEN"}
    result = subprocess.run([sys.executable, "-m", "servers.cli", "serve", "--host", "0.0.0.0", "--port", "9"],
                            cwd=REPO, env=environment, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "RAG_SERVICE_TOKEN" in result.stderr


def test_without_a_token_set_the_servers_of_one_data_dir_share_a_generated_one(services, monkeypatch):
    from servers.api.rag_client import RagClient

    monkeypatch.delenv("RAG_SERVICE_TOKEN")
    settings = Settings()
    app = create_app(settings)
    generated = (settings.data_dir / "secrets" / "rag-service-token").read_text()
    client = RagClient(settings)
    assert client.http.headers["authorization"] == f"Bearer {generated}"
    with TestClient(app, headers={"Authorization": f"Bearer {generated}"}) as rag:
        assert rag.get("/materials").status_code == 200


def test_bad_run_input_is_a_4xx_before_langserve_reads_it(app):
    with TestClient(app, headers=AUTH) as client:
        cases = {
            "non-UTF-8 JSON": client.post("/chat/invoke", content=b'{"input": "\xff"}'),
            "empty messages": client.post("/chat/invoke", json={"input": {"messages": []}}),
            "function message": client.post("/chat/invoke", json={"input": {"messages": [
                {"type": "function", "name": "f", "content": "x"}]}}),
            "long question": client.post("/rag/invoke", json={"input": {"question": "x" * 4001}}),
            "too many materials": client.post("/ask/invoke", json={"input": {"question": "oi",
                                                                               "material_ids": ["m"] * 101}}),
            "long playground history": client.post("/chat-playground/stream", json={"input": {"messages": [
                {"type": "human", "content": "oi"}] * 51}}),
            "huge batch": client.post("/rag/batch", json={"inputs": [{"question": "oi"}] * 17}),
            "not an object": client.post("/rag/invoke", json=["input"]),
        }
    assert {name: response.status_code for name, response in cases.items()} == {
        name: 400 if name == "non-UTF-8 JSON" else 422 for name in cases}


def rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def raw_post(url: str, path: str, headers: dict, *, declared: int | None = None,
             chunked_mb: int = 0) -> tuple[int, int]:
    """A POST over a raw socket (httpx will not lie about a length): declares a length and sends one byte, or
    streams up to `chunked_mb` MB chunked until the server answers. Returns (status, bytes sent)."""
    host, port = url.removeprefix("http://").split(":")
    framing = f"Content-Length: {declared}" if declared is not None else "Transfer-Encoding: chunked"
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", framing, "Content-Type: application/json",
             *(f"{name}: {value}" for name, value in headers.items())]
    sent = 0
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        if declared is not None:
            connection.sendall(b"{")
        chunk = b"%x\r\n%s\r\n" % (2**20, b"a" * 2**20)
        for _ in range(chunked_mb):
            if select.select([connection], [], [], 0)[0]:
                break  # the server has answered
            try:
                connection.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += 2**20
        return int(connection.recv(4096).split(b" ", 2)[1]), sent


def test_an_oversized_body_is_refused_while_it_streams_in(tmp_path):
    environment = server_environment(tmp_path / "data", MAX_JSON_MB="1", MAX_UPLOAD_MB="2", MAX_FILE_MB="2")
    with uvicorn_server(RAG_APP, environment, tmp_path / "server.log") as (url, process):
        before = rss_kb(process.pid)
        chunked, sent = raw_post(url, "/rag/invoke", AUTH, chunked_mb=200)
        declared, _ = raw_post(url, "/rag/invoke", AUTH, declared=10 * 2**30)
        upload = httpx.post(f"{url}/materials", headers=AUTH, timeout=60,
                            files={"files": ("grande.txt", b"a" * (5 * 2**20))})
        after = rss_kb(process.pid)
        anonymous, _ = raw_post(url, "/materials", {}, declared=10 * 2**30)
    assert chunked == declared == upload.status_code == 413
    assert "limit of 3 MB" in upload.json()["detail"]
    assert sent < 20 * 2**20  # the server answered long before the 200 MB were sent
    assert after - before < 50_000  # kB: the server never held the body
    assert anonymous == 413  # before authentication
    assert not list((tmp_path / "data" / "materials").glob(".upload-*"))


def test_questions_past_the_queue_get_503_with_retry_after(tmp_path):
    from tests.support.processes import openai_compatible_server

    with openai_compatible_server(tmp_path / "model.log", delay=1.5) as model_url:
        environment = server_environment(tmp_path / "data", LLM_PROVIDER="openai", OPENAI_BASE_URL=model_url,
                                         LLM_MAX_CONCURRENCY="1", LLM_MAX_QUEUE="1", MIN_RELEVANCE="0")
        (tmp_path / "data" / "materials").mkdir(parents=True)
        (tmp_path / "data" / "materials" / "nota.txt").write_text("Deload é uma semana de treino mais leve.")
        with uvicorn_process(RAG_APP, environment, tmp_path / "server.log") as url:
            job = httpx.post(f"{url}/process-materials", headers=AUTH).json()
            from tests.integration.conftest import wait_for_rag_job

            wait_for_rag_job(url, job["job_id"])

            import concurrent.futures

            def ask(number: int) -> httpx.Response:
                return httpx.post(f"{url}/query", json={"question": f"O que é deload? ({number})"}, headers=AUTH,
                                  timeout=60)

            with concurrent.futures.ThreadPoolExecutor(4) as pool:
                answers = list(pool.map(ask, range(4)))
    codes = sorted(answer.status_code for answer in answers)
    assert codes == [200, 200, 503, 503]
    busy = next(answer for answer in answers if answer.status_code == 503)
    assert busy.headers["retry-after"] == "5" and "try again" in busy.json()["detail"]
