"""Servers started as real processes on free ports, for the tests that talk to them over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import MODELS_DIR, REPO

RAG_APP, API_APP = "servers.rag.app:create_app", "servers.api.app:create_app"


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
def uvicorn_server(factory: str, environment: dict[str, str], log_path: Path):
    """The app `factory` builds, served by uvicorn on a free port as its own process; yields (URL, process) once
    it answers."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=REPO, env=environment, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(f"{url}/health", process)
            yield url, process
        finally:
            process.terminate()
            process.wait(timeout=30)


@contextmanager
def uvicorn_process(factory: str, environment: dict[str, str], log_path: Path):
    """`uvicorn_server`, yielding only the URL."""
    with uvicorn_server(factory, environment, log_path) as (url, _):
        yield url


@contextmanager
def openai_compatible_server(log_path: Path, delay: float = 0.0):
    """tests/support/openai_server.py as its own process; yields its base URL (…/v1)."""
    port = free_port()
    command = [sys.executable, "-m", "tests.support.openai_server", "--port", str(port), "--delay", str(delay)]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until_up(f"http://127.0.0.1:{port}/v1/models", process)
            yield f"http://127.0.0.1:{port}/v1"
        finally:
            process.terminate()
            process.wait(timeout=30)
