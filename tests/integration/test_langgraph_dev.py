"""`langgraph dev` loads langgraph.json and serves both graphs, with threads, offline; Studio reads each graph's
configuration schema, and a run with a changed answer prompt answers differently."""

from __future__ import annotations

import subprocess

import httpx

from tests.conftest import REPO, require
from tests.support.processes import free_port, openai_compatible_server, server_environment, wait_until_up

LANGGRAPH = REPO / ".venv-langgraph" / "bin" / "langgraph"
PIRATE = "Responda como um treinador pirata, citando os trechos."


def test_langgraph_dev_serves_both_graphs_with_configuration_and_memory(services, materials, tmp_path):
    require(LANGGRAPH.exists(), "the langgraph dev environment is missing: run `make test`")
    services.ingestor.sync()
    port = free_port()
    log = (tmp_path / "langgraph.log").open("w")
    with openai_compatible_server(tmp_path / "model.log") as model_url:
        environment = server_environment(
            services.settings.data_dir, LLM_PROVIDER="openai", OPENAI_BASE_URL=model_url, OPENAI_MODEL="fake-echo",
            LANGGRAPH_CLI_NO_ANALYTICS="1", LANGGRAPH_NO_VERSION_CHECK="true", LANGSMITH_TRACING="false",
        )
        process = subprocess.Popen(
            [str(LANGGRAPH), "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1", "--port", str(port),
             "--config", "langgraph.json"],
            cwd=REPO, env=environment, stdout=log, stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(f"{url}/ok", process, timeout=120)
            assistants = {assistant["graph_id"]: assistant["assistant_id"]
                          for assistant in httpx.post(f"{url}/assistants/search", json={}).json()}
            schemas = {graph: httpx.get(f"{url}/assistants/{assistant}/schemas").json()
                       for graph, assistant in assistants.items()}
            thread = httpx.post(f"{url}/threads", json={}).json()["thread_id"]

            def ask(question: str, thread_id: str | None = None, **run: dict) -> dict:
                path = f"/threads/{thread_id}/runs/wait" if thread_id else "/runs/wait"
                response = httpx.post(f"{url}{path}", timeout=120,
                                      json={"assistant_id": "rag", "input": {"question": question}, **run})
                assert response.status_code == 200, response.text
                return response.json()

            first = ask("Quanta proteína devo comer por dia?", thread)
            second = ask("E quantas horas de sono?", thread)
            pirate = ask("Quanta proteína devo comer por dia?", context={"answer_prompt": PIRATE + "\n{context}"})
            memory = httpx.get(f"{url}/threads/{thread}/state").json()["values"]["messages"]
        finally:
            process.terminate()
            process.wait(timeout=30)
            log.close()

    assert set(assistants) == {"rag", "chat"}
    for graph in ("rag", "chat"):
        fields = schemas[graph]["context_schema"]["properties"]
        assert {"answer_prompt", "rewrite_prompt", "k", "retrieval_mode", "min_relevance", "model", "temperature",
                "max_tokens"} <= set(fields)
    assert "chat_prompt" in schemas["chat"]["context_schema"]["properties"]
    assert "Você é o assistente de ensino do curso DNA da Força" in first.get("answer", ""), first
    assert first["sources"][0]["source"] == "guia-nutricao-e-recuperacao.docx"
    assert second["answer"] and [message["type"] for message in memory] == ["human", "ai", "human", "ai"]
    assert PIRATE in pirate["answer"] and PIRATE not in first["answer"]
