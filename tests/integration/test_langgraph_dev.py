"""`langgraph dev` loads langgraph.json and serves both graphs, with threads, offline."""

from __future__ import annotations

import subprocess

import httpx

from tests.conftest import REPO, require
from tests.integration.conftest import free_port, server_environment, wait_until_up

LANGGRAPH = REPO / ".venv-langgraph" / "bin" / "langgraph"


def test_langgraph_dev_serves_both_graphs_with_memory(services, materials, tmp_path):
    require(LANGGRAPH.exists(), "the langgraph dev environment is missing: run `make test`")
    services.ingestor.sync()
    port = free_port()
    environment = server_environment(
        services.settings.data_dir, LLM_PROVIDER="extractive", LANGGRAPH_CLI_NO_ANALYTICS="1",
        LANGGRAPH_NO_VERSION_CHECK="true", LANGSMITH_TRACING="false",
    )
    log = (tmp_path / "langgraph.log").open("w")
    process = subprocess.Popen(
        [str(LANGGRAPH), "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1", "--port", str(port),
         "--config", "langgraph.json"],
        cwd=REPO, env=environment, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/ok", process, timeout=120)
        assistants = httpx.post(f"{url}/assistants/search", json={}).json()
        thread = httpx.post(f"{url}/threads", json={}).json()["thread_id"]

        def ask(question: str) -> dict:
            response = httpx.post(f"{url}/threads/{thread}/runs/wait", timeout=120,
                                  json={"assistant_id": "rag", "input": {"question": question}})
            assert response.status_code == 200, response.text
            return response.json()

        first = ask("Quanta proteína devo comer por dia?")
        second = ask("E quantas horas de sono?")
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()

    assert {assistant["graph_id"] for assistant in assistants} == {"rag", "chat"}
    assert "1,6 a 2,2 gramas" in first["answer"]
    assert second["standalone_question"] == "Quanta proteína devo comer por dia? E quantas horas de sono?"
