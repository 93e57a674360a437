"""The API server's own metrics (logins by outcome, rate-limit refusals, open answer streams, RAG client errors)
and the user named in its log lines."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from tests.conftest import AUTH
from tests.servers.api.conftest import PASSWORD

pytestmark = pytest.mark.parametrize("database_url", [None])  # nothing here depends on the database


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_logins_are_counted_by_outcome_and_refusals_by_limit(api, student, api_settings):
    def logins(outcome):
        return sample("dnaforca_api_logins_total", outcome=outcome)

    before = {outcome: logins(outcome) for outcome in ("success", "wrong_credentials", "rate_limited")}
    refused = sample("dnaforca_api_rate_limited_total", limit="login-failures")
    attempts = [api.post("/auth/login", data={"username": student.email, "password": "errada-123"}).status_code
                for _ in range(api_settings.login_failures_per_client + 1)]
    assert attempts == [401] * api_settings.login_failures_per_client + [429]
    assert {outcome: logins(outcome) - before[outcome] for outcome in before} == {
        "success": 0, "wrong_credentials": api_settings.login_failures_per_client, "rate_limited": 1}
    assert sample("dnaforca_api_rate_limited_total", limit="login-failures") == refused + 1
    body = api.get("/metrics", headers=AUTH).text
    assert student.email not in body  # labels name limits, never accounts or addresses


def test_streams_are_open_while_answering_and_closed_after(api, student):
    open_before = sample("dnaforca_api_sse_streams_open")
    with api.stream("POST", "/chat-auth", json={"message": "Quantas séries por semana?"},
                    headers=student.headers | {"Accept": "text/event-stream"}) as answer:
        lines = answer.iter_lines()
        assert next(line for line in lines if line.startswith("event: "))
        during = sample("dnaforca_api_sse_streams_open")
        assert "event: done" in list(lines)
    assert (during, sample("dnaforca_api_sse_streams_open")) == (open_before + 1, open_before)


def test_a_rag_server_that_is_down_is_counted_as_unreachable(api_settings):
    from servers.api.app import create_app

    unreachable = sample("dnaforca_api_rag_client_errors_total", kind="unreachable")
    down = api_settings.model_copy(update={"rag_server_url": "http://127.0.0.1:9"})
    with TestClient(create_app(down)) as client:
        assert client.post("/chat", json={"message": "Quantas séries?"}).status_code == 503
    assert sample("dnaforca_api_rag_client_errors_total", kind="unreachable") == unreachable + 1


def test_log_lines_name_the_signed_in_user(api_settings, student, monkeypatch, capfd):
    from servers.api.app import create_app

    with TestClient(create_app(api_settings.model_copy(update={"log_format": "json"}))) as client:
        assert client.get("/auth/me", headers=student.headers | {"X-Request-Id": "me-1"}).status_code == 200
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("request_id") == "me-1" and line["logger"] == "servers.access"]
    assert [(line["route"], line["status"], line["user_id"]) for line in access] == [("/auth/me", 200, student.id)]
    assert PASSWORD not in json.dumps(lines) and student.token not in json.dumps(lines)
