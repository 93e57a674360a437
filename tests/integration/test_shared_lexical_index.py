"""Two RAG server processes on one lexical index see each other's uploads at once: on one machine (the SQLite index
under a shared DATA_DIR) and across machines (a PostgreSQL index; here two DATA_DIRs that share nothing else)."""

from __future__ import annotations

from contextlib import ExitStack

import httpx
import pytest

from tests.conftest import AUTH
from tests.integration.conftest import wait_for_rag_job
from tests.servers.api.conftest import postgres_database, postgres_server  # noqa: F401 (fixtures)
from tests.support.processes import RAG_APP, server_environment, uvicorn_process

LESSONS = {
    "aula-remada.txt": ("A remada curvada com barra trabalha o dorsal e o bíceps.", "remada curvada dorsal"),
    "aula-panturrilha.txt": ("A elevação de panturrilha em pé fortalece o gastrocnêmio.", "panturrilha gastrocnêmio"),
}


@pytest.fixture(params=["sqlite", "postgresql"])
def two_servers(request, tmp_path):
    if request.param == "sqlite":
        environments = [server_environment(tmp_path / "data")] * 2
    else:
        url = request.getfixturevalue("postgres_database")
        environments = [server_environment(tmp_path / name, LEXICAL_INDEX_URL=url) for name in ("a", "b")]
    with ExitStack() as stack:
        yield [stack.enter_context(uvicorn_process(RAG_APP, environment, tmp_path / f"server-{number}.log"))
               for number, environment in enumerate(environments)]


def upload(url: str, name: str) -> str:
    response = httpx.post(f"{url}/materials", headers=AUTH, files=[("files", (name, LESSONS[name][0].encode()))])
    assert response.status_code == 201, response.text
    assert wait_for_rag_job(url, response.json()["job_id"])["state"] == "completed"
    return response.json()["materials"][0]["id"]


def lexical_sources(url: str, question: str) -> list[str]:
    # The gate off: with PostgreSQL the servers share the lexical index only, and the gate reads the dense one too.
    body = {"question": question, "config": {"retrieval_mode": "bm25", "k": 2, "min_relevance": 0}}
    response = httpx.post(f"{url}/query", headers=AUTH, json=body, timeout=60)
    assert response.status_code == 200, response.text
    return [source["material_id"] for source in response.json()["sources"]]


def test_each_process_finds_what_the_other_indexed(two_servers):
    server_a, server_b = two_servers
    rowing = upload(server_a, "aula-remada.txt")
    found_by_b = lexical_sources(server_b, LESSONS["aula-remada.txt"][1])
    calves = upload(server_b, "aula-panturrilha.txt")
    found_by_a = lexical_sources(server_a, LESSONS["aula-panturrilha.txt"][1])
    assert found_by_b == [rowing] and found_by_a == [calves]
