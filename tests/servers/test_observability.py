"""Metrics, request ids and log lines of the RAG server, in process on the real stores (the API server's: in
tests/servers/api/test_operations.py; both as processes under Prometheus: tests/integration/test_operations.py)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from tests.conftest import AUTH, indexed_app, require

METRICS_TOKEN = "metrics-token-of-the-observability-tests-0123"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def app(settings, embeddings):
    with indexed_app(settings, embeddings) as client:
        yield client


def test_metrics_need_the_metrics_token_or_the_service_token(settings, services, monkeypatch):
    from core.settings import get_settings
    from servers.rag.app import create_app

    monkeypatch.setenv("METRICS_TOKEN", METRICS_TOKEN)
    get_settings.cache_clear()
    with TestClient(create_app()) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong-token"}).status_code == 401
        assert client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).status_code == 200
        by_service_token = client.get("/metrics", headers=AUTH)
    assert by_service_token.status_code == 200
    assert by_service_token.headers["content-type"].startswith("text/plain; version=")


def test_requests_are_counted_by_route_template_not_by_path(app):
    before = sample("dnaforca_http_requests_total", route="/jobs/{job_id}", method="GET", status="404")
    for job_id in ("f00d", "beef"):
        assert app.get(f"/jobs/{job_id}").status_code == 404
    app.get("/no/such/route/3f2a")
    body = app.get("/metrics").text
    assert sample("dnaforca_http_requests_total", route="/jobs/{job_id}", method="GET", status="404") == before + 2
    assert 'route="unmatched"' in body
    assert "f00d" not in body and "3f2a" not in body


def test_a_request_id_is_kept_when_given_and_made_when_absent(app):
    assert app.get("/health", headers={"X-Request-Id": "abc-123.x"}).headers["x-request-id"] == "abc-123.x"
    assert re.fullmatch(r"[0-9a-f]{32}", app.get("/health").headers["x-request-id"])
    forged = app.get("/health", headers={"X-Request-Id": "a b\" level=ERROR"}).headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", forged)


def test_a_question_records_its_stages_the_cache_and_the_index(app):
    def stage_count(stage):
        return sample("dnaforca_rag_stage_duration_seconds_count", stage=stage)

    before = {stage: stage_count(stage) for stage in ("embed", "judge", "search")}
    hits, misses = sample("dnaforca_query_cache_lookups_total", result="hit"), sample(
        "dnaforca_query_cache_lookups_total", result="miss")
    extractive = sample("dnaforca_rag_answers_total", outcome="extractive")
    for _ in range(2):
        assert app.post("/query", json={"question": "Quantas séries por semana para hipertrofia?"}).status_code == 200
    body = app.get("/metrics").text
    assert {stage: stage_count(stage) - before[stage] for stage in before} == {"embed": 1, "judge": 1, "search": 1}
    assert sample("dnaforca_query_cache_lookups_total", result="miss") == misses + 1
    assert sample("dnaforca_query_cache_lookups_total", result="hit") == hits + 1
    assert sample("dnaforca_rag_answers_total", outcome="extractive") == extractive + 1
    assert "dnaforca_index_chunks 11.0" in body
    assert 'dnaforca_index_materials{state="indexed"} 5.0' in body
    assert "dnaforca_job_queue_depth 0.0" in body
    assert "dnaforca_backup_due_timestamp_seconds 0.0" in body  # none due since the server started


def test_metrics_pass_promtool(app):
    require(shutil.which("promtool") is not None, "promtool is missing: apt-get install prometheus")
    app.post("/query", json={"question": "Quanto descanso entre séries?"})
    result = subprocess.run(["promtool", "check", "metrics"], input=app.get("/metrics").text, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_job_logs_under_the_request_that_queued_it(settings, embeddings, monkeypatch, capfd):
    from core.settings import get_settings

    monkeypatch.setenv("LOG_FORMAT", "json")
    get_settings.cache_clear()
    with indexed_app(get_settings(), embeddings) as client:
        job = client.post("/process-materials", headers={"X-Request-Id": "reindex-42"}).json()
        client.app.state.jobs.wait(job["job_id"])
        stored = client.app.state.services.catalog.job(job["job_id"])
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    assert stored.request["request_id"] == "reindex-42"
    job_lines = [line for line in lines if line["logger"] == "knowledge.jobs" and job["job_id"] in line["message"]]
    assert job_lines and all(line["request_id"] == "reindex-42" for line in job_lines)
    access = next(line for line in lines
                  if line.get("request_id") == "reindex-42" and line["logger"] == "servers.access")
    assert (access["route"], access["status"], access["level"]) == ("/process-materials", 202, "INFO")
    assert access["duration_ms"] >= 0
