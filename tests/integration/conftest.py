"""The RAG server as a real process with the real local model, shared by the integration tests."""

from __future__ import annotations

import shutil
import time

import httpx
import pytest

from tests.conftest import AUTH, SAMPLES
from tests.support.processes import RAG_APP, server_environment, uvicorn_process


def wait_for_rag_job(url: str, job_id: str, headers: dict | None = None, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    headers = AUTH if headers is None else headers
    while (job := httpx.get(f"{url}/jobs/{job_id}", headers=headers).json())["state"] not in ("completed", "failed"):
        assert time.monotonic() < deadline, "ingestion did not finish"
        time.sleep(0.1)
    return job


@pytest.fixture(scope="session")
def rag_server(tmp_path_factory):
    """The RAG server under uvicorn with the bundled local model and the sample materials indexed."""
    data_dir = tmp_path_factory.mktemp("rag-server")
    shutil.copytree(SAMPLES, data_dir / "materials")
    environment = server_environment(data_dir, LLM_PROVIDER="local", LLM_MAX_TOKENS="60")
    with uvicorn_process(RAG_APP, environment, data_dir / "server.log") as url:
        job = httpx.post(f"{url}/initialize", headers=AUTH, timeout=300).json()
        wait_for_rag_job(url, job["job_id"])
        yield url
