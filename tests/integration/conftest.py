"""Servers started as real processes on free ports, with the real local model."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import MODELS_DIR, REPO, SAMPLES


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer in {timeout} s")


def server_environment(data_dir: Path, **overrides: str) -> dict[str, str]:
    environment = {**os.environ, "DATA_DIR": str(data_dir), "MODELS_DIR": str(MODELS_DIR), **overrides}
    return environment


@contextmanager
def uvicorn_process(target: str, environment: dict[str, str], log_path: Path, factory: bool = False):
    """`target` served by uvicorn on a free port, as its own process; yields its URL once it answers."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("w") as log:
        process = subprocess.Popen(command + (["--factory"] if factory else []), cwd=REPO, env=environment,
                                   stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(f"{url}/health", process)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)


def wait_for_rag_job(url: str, job_id: str, headers: dict | None = None, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while (job := httpx.get(f"{url}/jobs/{job_id}", headers=headers).json())["state"] not in ("completed", "failed"):
        assert time.monotonic() < deadline, "ingestion did not finish"
        time.sleep(0.1)
    return job


@pytest.fixture(scope="session")
def rag_server(tmp_path_factory):
    """The RAG server under uvicorn with the bundled local model and the sample materials indexed."""
    data_dir = tmp_path_factory.mktemp("rag-server")
    shutil.copytree(SAMPLES, data_dir / "materials")
    port = free_port()
    environment = server_environment(data_dir, LLM_PROVIDER="local", LLM_MAX_TOKENS="60")
    log = (data_dir / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "servers.rag.app:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO, env=environment, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/health", process)
        job = httpx.post(f"{url}/initialize", timeout=300).json()
        deadline = time.monotonic() + 300
        while httpx.get(f"{url}/jobs/{job['job_id']}").json()["state"] not in ("completed", "failed"):
            assert time.monotonic() < deadline, "ingestion did not finish"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
