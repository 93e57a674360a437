"""Server-side failures answer in plain words with a short id and no internals; the log has the rest.
The RAG server's own 4xx details pass on to the caller, its 5xx texts never do."""

from __future__ import annotations

import json
import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient

from servers.api.app import create_app
from tests.servers.api.conftest import login

INTERNALS = "Traceback (most recent call last): /srv/dnaforca/data/chroma password=hunter2"


@pytest.mark.parametrize("database_url", [None])
def test_an_unexpected_error_is_a_500_with_an_id_and_no_internals(api_settings, caplog):
    app = create_app(api_settings)

    @app.get("/test-only/boom")
    def boom() -> None:
        raise RuntimeError(INTERNALS)

    with TestClient(app, raise_server_exceptions=False) as client, caplog.at_level(logging.ERROR):
        response = client.get("/test-only/boom")
    assert response.status_code == 500
    reference = re.fullmatch(r"Internal error \(id ([0-9a-f]{10})\)", response.json()["detail"]).group(1)
    assert "hunter2" not in response.text and "Traceback" not in response.text
    assert [record for record in caplog.records if reference in record.getMessage() and record.exc_info]


class FailingRagServer(BaseHTTPRequestHandler):
    """A RAG server that knows no material (404 with its detail) and fails at everything else (500)."""

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        status, detail = (404, "No material abc") if self.path.startswith("/materials/") else (500, INTERNALS)
        body = json.dumps({"detail": detail}).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        return None


@pytest.fixture
def api_with_failing_rag(api_settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FailingRagServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings = api_settings.model_copy(update={"rag_server_url": f"http://127.0.0.1:{server.server_port}"})
    with TestClient(create_app(settings)) as client:
        yield client
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("database_url", [None])
def test_the_rag_servers_client_errors_pass_on_and_its_failures_do_not_leak(api_with_failing_rag, caplog):
    admin = login(api_with_failing_rag, "admin@dnadaforca.com.br")
    missing = api_with_failing_rag.get("/materials/abc", headers=admin.headers)
    assert missing.status_code == 404 and missing.json()["detail"] == "No material abc"
    with caplog.at_level(logging.ERROR):
        for path, method in (("/materials", "GET"), ("/chat", "POST")):
            response = api_with_failing_rag.request(method, path, headers=admin.headers, json={"message": "Oi?"})
            assert response.status_code == 502, (path, response.text)
            assert "hunter2" not in response.text and "Traceback" not in response.text
            reference = re.search(r"error id ([0-9a-f]{10})", response.json()["detail"]).group(1)
            assert any(reference in record.getMessage() and "hunter2" in record.getMessage()
                       for record in caplog.records)


@pytest.mark.parametrize("database_url", [None])
def test_a_service_token_the_rag_server_refuses_is_a_502_not_the_callers_401(api_settings, caplog):
    """A deployment whose two servers hold different tokens: students must not be told their session ended (the
    chat page logs them out on a 401), the staff must find the cause in the log and in the metrics."""
    from prometheus_client import REGISTRY
    from pydantic import SecretStr

    from servers.api.errors import RAG_REFUSED

    settings = api_settings.model_copy(update={"rag_service_token": SecretStr("not-the-rag-servers-token-0123456789")})
    refused = REGISTRY.get_sample_value("dnaforca_api_rag_client_errors_total", {"kind": "refused"}) or 0.0
    with TestClient(create_app(settings)) as client, caplog.at_level(logging.ERROR):
        student = login(client, "admin@dnadaforca.com.br")
        for path in ("/chat", "/chat-auth"):
            for accept in ("application/json", "text/event-stream"):
                response = client.post(path, headers={**student.headers, "Accept": accept},
                                       json={"message": "Quantas séries por semana?"})
                assert (response.status_code, response.json()["detail"]) == (502, RAG_REFUSED), (path, accept)
        assert client.get("/auth/me", headers=student.headers).status_code == 200  # still logged in
    assert REGISTRY.get_sample_value("dnaforca_api_rag_client_errors_total", {"kind": "refused"}) >= refused + 4
    assert any("RAG_SERVICE_TOKEN" in record.getMessage() for record in caplog.records)
