"""The RAG server as a real process with the real local model, shared by the integration tests."""

from __future__ import annotations

import shutil
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import AUTH, SAMPLES
from tests.support.processes import (
    RAG_APP,
    openai_compatible_server,
    server_environment,
    uvicorn_process,
    uvicorn_server,
)


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


@contextmanager
def rag_server_on_echo_model(root: Path, delay: float, **overrides: str):
    """The RAG server under uvicorn answering with tests/support/openai_server.py (an answer streamed word by word
    over `delay` seconds) and the sample materials indexed; yields (URL, process)."""
    shutil.copytree(SAMPLES, root / "materials")
    with openai_compatible_server(root / "model.log", delay=delay) as model_url:
        environment = server_environment(root, LLM_PROVIDER="openai", OPENAI_BASE_URL=model_url,
                                         OPENAI_MODEL="fake-echo", **overrides)
        with uvicorn_server(RAG_APP, environment, root / "server.log") as (url, process):
            job = httpx.post(f"{url}/process-materials", headers=AUTH, timeout=60).json()
            wait_for_rag_job(url, job["job_id"])
            yield url, process
