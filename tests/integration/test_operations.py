"""Operations, for real: both servers and a job worker as processes on Redis, scraped by Debian's `prometheus` on
loopback with deploy/prometheus/alerts.yml loaded; every dashboard panel and every alert signal asked through
Prometheus's HTTP API returns data. A backup taken by the schedule while everything runs is restored into a fresh
DATA_DIR and answers the same question with the same sources. No log line of the whole run holds a secret."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
import yaml

from knowledge.scheduled_backups import archives
from tests.conftest import AUTH, REPO, SAMPLES, SERVICE_TOKEN, delete_redis_keys, require
from tests.integration.conftest import wait_for_rag_job
from tests.support.processes import (
    API_APP,
    RAG_APP,
    free_port,
    openai_compatible_server,
    server_environment,
    uvicorn_process,
    wait_until_up,
)

DEPLOY = REPO / "deploy"
METRICS_TOKEN = "metrics-token-of-the-operations-test-0123456789"
PASSWORD = "senha-forte-da-aluna-123"
ADMIN, ADMIN_PASSWORD = "admin@dnadaforca.com.br", "senha-forte-do-admin-456"
QUESTION = "Quantas séries por semana para hipertrofia?"
# An alert's expression is `<signal> <comparison> <number>` (deploy/prometheus/alerts.yml says so).
ALERT_SHAPE = re.compile(r"^(?P<signal>.+?)\s*(?:==|!=|>=|<=|>|<)\s*[\d.]+$", re.DOTALL)


def _prometheus_config(targets: dict[str, str], token_file: Path) -> dict:
    """deploy/prometheus/prometheus.yml with the same jobs and rules, aimed at loopback and scraping every second."""
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(DEPLOY / "prometheus" / "alerts.yml")]
    for job in config["scrape_configs"]:
        job.pop("dns_sd_configs")
        job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
        job["authorization"] = {"credentials_file": str(token_file)}
    return config


@pytest.fixture(scope="module")
def stack(tmp_path_factory, redis_url):
    require(shutil.which("prometheus") is not None, "prometheus is missing: apt-get install prometheus")
    root = tmp_path_factory.mktemp("operations")
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    rag_dir, api_dir = root / "rag", root / "api"
    shutil.copytree(SAMPLES, rag_dir / "materials")
    common = {"REDIS_URL": redis_url, "REDIS_PREFIX": prefix, "LOG_FORMAT": "json", "METRICS_TOKEN": METRICS_TOKEN}
    logs = {name: root / f"{name}.log" for name in ("rag", "worker", "api", "prometheus", "restored")}
    worker_port, prometheus_port = free_port(), free_port()
    processes = []
    try:
        with openai_compatible_server(root / "model.log", delay=0.3) as model_url:
            rag_environment = server_environment(
                rag_dir, **common, LLM_PROVIDER="openai", OPENAI_BASE_URL=model_url, OPENAI_MODEL="fake-echo",
                INLINE_WORKER="false", BACKUP_SCHEDULE="* * * * *", BACKUP_KEEP="2",
                BACKUP_DIR=str(root / "backups"), WORKER_METRICS_PORT=str(worker_port))
            worker = subprocess.Popen([sys.executable, "-m", "servers.cli", "worker"], cwd=REPO, env=rag_environment,
                                      stdout=logs["worker"].open("w"), stderr=subprocess.STDOUT)
            processes.append(worker)
            with uvicorn_process(RAG_APP, rag_environment, logs["rag"]) as rag:
                api_environment = server_environment(api_dir, **common, RAG_SERVER_URL=rag,
                                                     FIRST_ADMIN_EMAIL=ADMIN, FIRST_ADMIN_PASSWORD=ADMIN_PASSWORD)
                subprocess.run([sys.executable, "-m", "servers.cli", "migrate"], cwd=REPO, env=api_environment,
                               check=True, capture_output=True)
                with uvicorn_process(API_APP, api_environment, logs["api"]) as api:
                    token_file = root / "metrics-token"
                    token_file.write_text(METRICS_TOKEN)
                    targets = {"rag": rag.removeprefix("http://"), "api": api.removeprefix("http://"),
                               "worker": f"127.0.0.1:{worker_port}"}
                    config = root / "prometheus.yml"
                    config.write_text(yaml.safe_dump(_prometheus_config(targets, token_file)))
                    prometheus = subprocess.Popen(
                        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={root / 'tsdb'}",
                         f"--web.listen-address=127.0.0.1:{prometheus_port}"],
                        cwd=root, stdout=logs["prometheus"].open("w"), stderr=subprocess.STDOUT)
                    processes.append(prometheus)
                    prometheus_url = f"http://127.0.0.1:{prometheus_port}"
                    wait_until_up(f"{prometheus_url}/-/ready", prometheus)
                    yield {"rag": rag, "api": api, "worker": f"http://127.0.0.1:{worker_port}",
                           "prometheus": prometheus_url, "root": root, "logs": logs, "model_url": model_url,
                           "secrets": set()}
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
        delete_redis_keys(redis_url, f"{prefix}*")


@pytest.fixture(scope="module")
def traffic(stack):
    """A morning of use: ingestion by the worker, logins (one wrong), questions through both servers, streamed
    answers, a password reset asked for. Returns the ids the logs must link."""
    secrets = stack["secrets"]
    job = httpx.post(f"{stack['rag']}/process-materials", headers=AUTH | {"X-Request-Id": "ingest-1"}).json()
    assert wait_for_rag_job(stack["rag"], job["job_id"])["state"] == "completed"
    with httpx.Client(base_url=stack["api"], timeout=120) as api:
        assert api.post("/auth/register", json={"email": "ana@example.com", "password": PASSWORD}).status_code == 201
        wrong = api.post("/auth/login", data={"username": "ana@example.com", "password": "errada-123"})
        assert wrong.status_code == 401
        login = api.post("/auth/login", data={"username": "ana@example.com", "password": PASSWORD}).json()
        secrets |= {login["access_token"], login["refresh_token"], PASSWORD, ADMIN_PASSWORD}
        headers = {"Authorization": f"Bearer {login['access_token']}"}
        user_id = api.get("/auth/me", headers=headers).json()["id"]
        for request_id in ("journey-1", "journey-2"):
            with api.stream("POST", "/chat-auth", json={"message": QUESTION},
                            headers=headers | {"Accept": "text/event-stream", "X-Request-Id": request_id}) as answer:
                assert answer.status_code == 200 and answer.headers["x-request-id"] == request_id
                assert "event: done" in answer.read().decode()
        assert api.post("/chat", json={"message": "Qual a capital da Mongólia?"}).status_code == 200
        assert api.post("/auth/password-reset/request", json={"email": "ana@example.com"}).status_code == 202
    for _ in range(2):  # the second is a cache hit
        assert httpx.post(f"{stack['rag']}/query", json={"question": QUESTION}, timeout=120).status_code == 200
    return {"user_id": user_id, "finished_at": time.time()}


def _query(stack, expression: str) -> list:
    response = httpx.get(f"{stack['prometheus']}/api/v1/query", params={"query": expression}, timeout=10).json()
    assert response["status"] == "success", (expression, response)
    return response["data"]["result"]


def _expressions() -> dict[str, str]:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "dnaforca.json").read_text())
    panels = {f"panel {panel['title']} [{target['refId']}]": target["expr"]
              for panel in dashboard["panels"] for target in panel["targets"]}
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"][0]["rules"]
    alerts = {f"alert {rule['alert']}": ALERT_SHAPE.match(rule["expr"].strip())["signal"] for rule in rules}
    return panels | alerts


def test_every_dashboard_panel_and_alert_signal_returns_data(stack, traffic):
    targets = {}
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        targets = {sample["metric"]["job"]: sample["value"][1] for sample in _query(stack, "up")}
        if targets == {"rag": "1", "api": "1", "worker": "1"}:
            break
        time.sleep(1)
    assert targets == {"rag": "1", "api": "1", "worker": "1"}, targets
    time.sleep(3)  # rates need two scrapes after the traffic
    empty = {name: expression for name, expression in _expressions().items() if not _query(stack, expression)}
    assert empty == {}, "expressions without data"
    rules = httpx.get(f"{stack['prometheus']}/api/v1/rules").json()["data"]["groups"][0]["rules"]
    assert {rule["name"]: rule["health"] for rule in rules} == {rule["name"]: "ok" for rule in rules}
    tokens_out = _query(stack, 'sum(dnaforca_llm_tokens_total{direction="output"})')
    assert float(tokens_out[0]["value"][1]) > 0
    assert float(_query(stack, "max(dnaforca_index_chunks)")[0]["value"][1]) == 11
    assert _query(stack, "sum(dnaforca_rag_time_to_first_token_seconds_count)")[0]["value"][1] != "0"


def test_every_metrics_endpoint_passes_promtool(stack, traffic):
    for name in ("rag", "api", "worker"):
        assert httpx.get(f"{stack[name]}/metrics").status_code == 401
        body = httpx.get(f"{stack[name]}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
        result = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, text=True)
        assert result.returncode == 0, (name, result.stdout + result.stderr)


def test_the_deploy_files_pass_promtool(tmp_path):
    require(shutil.which("promtool") is not None, "promtool is missing: apt-get install prometheus")
    shutil.copytree(DEPLOY / "prometheus", tmp_path / "prometheus")
    config = tmp_path / "prometheus" / "prometheus.yml"
    # The token file is written by the container's command: promtool wants it to exist.
    token_file = tmp_path / "metrics-token"
    token_file.write_text(METRICS_TOKEN)
    config.write_text(config.read_text().replace("/tmp/metrics-token", str(token_file)))
    for command in (["check", "config", str(config)], ["check", "rules", str(DEPLOY / "prometheus" / "alerts.yml")]):
        result = subprocess.run(["promtool", *command], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def _sources(url: str) -> list[tuple[str, str]]:
    answer = httpx.post(f"{url}/query", json={"question": QUESTION}, headers=AUTH, timeout=120).json()
    return [(source["material_id"], source.get("location", "")) for source in answer["sources"]]


def test_a_scheduled_backup_restores_into_a_fresh_data_dir(stack, traffic):
    folder = stack["root"] / "backups"
    deadline = time.monotonic() + 130  # the schedule fires every minute
    while not (taken := [a for a in archives(folder) if a.taken_at > traffic["finished_at"]]):
        assert time.monotonic() < deadline, "no scheduled backup was written after the traffic"
        time.sleep(1)
    archive = taken[-1].path
    expected = _sources(stack["rag"])
    assert expected
    fresh = stack["root"] / "fresh"
    environment = server_environment(fresh, LLM_PROVIDER="openai", OPENAI_BASE_URL=stack["model_url"],
                                     OPENAI_MODEL="fake-echo", LOG_FORMAT="json")
    restore = subprocess.run([sys.executable, "-m", "servers.cli", "restore", str(archive)], cwd=REPO,
                             env=environment, capture_output=True, text=True)
    assert restore.returncode == 0, restore.stdout + restore.stderr
    with uvicorn_process(RAG_APP, environment, stack["logs"]["restored"]) as restored:
        assert _sources(restored) == expected
    last_success = _query(stack, "max(dnaforca_backup_last_success_timestamp_seconds)")
    assert time.time() - float(last_success[0]["value"][1]) < 300


def test_logs_link_a_request_across_servers_and_hold_no_secret(stack, traffic):
    time.sleep(1)  # the servers flush the last lines
    lines = {name: path.read_text().splitlines() for name, path in stack["logs"].items()
             if name != "prometheus" and path.exists()}
    records = {name: [json.loads(line) for line in text if line.startswith("{")] for name, text in lines.items()}
    for name in ("rag", "api", "worker"):
        plain = [line for line in lines[name] if line.strip() and not line.startswith("{")]
        assert plain == [], f"{name} wrote lines that are not JSON"
    api_access = [r for r in records["api"] if r.get("request_id") == "journey-1" and r["logger"] == "servers.access"]
    assert [(r["route"], r["status"], r["user_id"]) for r in api_access] == [("/chat-auth", 200, traffic["user_id"])]
    assert any(r.get("request_id") == "journey-1" and r["logger"] == "servers.access" for r in records["rag"])
    assert any(r.get("request_id") == "ingest-1" and r["logger"] == "knowledge.jobs" for r in records["worker"])
    everything = "\n".join("\n".join(text) for text in lines.values())
    leaks = {secret[:12] for secret in stack["secrets"] | {SERVICE_TOKEN, METRICS_TOKEN} if secret in everything}
    assert leaks == set()
    assert not re.search(r"eyJ[\w-]{8,}\.[\w-]{8,}\.", everything), "a JWT in the logs"
    assert not re.search(r"(?i)reset-password\?token=(?!\[redacted\])", everything), "a reset link in the logs"
