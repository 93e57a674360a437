"""Metrics of several processes summed through PROMETHEUS_MULTIPROC_DIR, and a worker's own /metrics port."""

from __future__ import annotations

import subprocess
import sys

import httpx

from core.metrics import Exposition, serve_metrics
from tests.conftest import REPO

COUNT = """
import sys
from prometheus_client import Counter
Counter("dnaforca_test_things", "things", ["kind"]).labels("a").inc(int(sys.argv[1]))
"""
READ = """
from core.metrics import Exposition
print(Exposition().render().decode())
"""


def test_processes_sharing_a_folder_are_summed(tmp_path):
    environment = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PATH": ""}
    for amount in ("2", "5"):
        subprocess.run([sys.executable, "-c", COUNT, amount], env=environment, check=True, cwd=REPO)
    text = subprocess.run([sys.executable, "-c", READ], env=environment, check=True, cwd=REPO, capture_output=True,
                          text=True).stdout
    assert 'dnaforca_test_things_total{kind="a"} 7.0' in text


def test_a_worker_serves_metrics_to_token_holders_only():
    server = serve_metrics(Exposition(), "127.0.0.1", 0, ["worker-metrics-token-0123456789abcdef"])
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        assert httpx.get(f"{url}/metrics").status_code == 401
        assert httpx.get(f"{url}/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
        allowed = httpx.get(f"{url}/metrics", headers={"Authorization": "Bearer worker-metrics-token-0123456789abcdef"})
        assert httpx.get(f"{url}/other").status_code == 404
    finally:
        server.shutdown()
        server.server_close()
    assert allowed.status_code == 200 and "python_info" in allowed.text
