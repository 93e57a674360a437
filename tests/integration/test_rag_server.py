"""The RAG server as a real process: RemoteRunnable token streaming and answers of the real local model."""

from __future__ import annotations

import asyncio

import httpx
from langserve import RemoteRunnable

from chains.answer import focused_passages, grounded_answer
from chains.sources import passages_from_sources
from core.contracts import ANSWER_TAG, THREAD_HEADER
from tests.conftest import AUTH


def test_local_model_answers_from_the_materials_with_citations(rag_server):
    body = httpx.post(f"{rag_server}/query", json={"question": "Quanta proteína por dia devo comer para ganhar massa?"},
                      timeout=180).json()

    assert body["llm_provider"] == "local"
    assert body["sources"][0]["source"] == "guia-nutricao-e-recuperacao.docx"
    assert not body["answer"].startswith("Resposta extrativa")
    assert any(number in body["answer"] for number in ("1,6", "2,2", "1.6", "2.2")), body["answer"]


def test_remote_runnable_streams_answer_tokens(rag_server):
    rag = RemoteRunnable(f"{rag_server}/rag", timeout=180, headers={**AUTH, THREAD_HEADER: "integration-stream"})
    question = "Como posicionar as escápulas no supino?"

    async def collect() -> tuple[list[str], dict]:
        tokens, output = [], {}
        async for event in rag.astream_events({"question": question}, version="v2"):
            if event["event"] == "on_chat_model_stream" and ANSWER_TAG in event.get("tags", []):
                tokens.append(event["data"]["chunk"].content)
            if event["event"] == "on_chain_end" and not event["parent_ids"]:
                output = event["data"]["output"]
        return tokens, output

    tokens, output = asyncio.run(collect())

    assert len(tokens) >= 5, tokens
    # The final answer is the streamed one checked against the passages it cites (kept, cited, or replaced).
    passages = focused_passages(question, passages_from_sources(output["sources"]))
    assert output["answer"] == grounded_answer("".join(tokens).strip(), question, passages)
    assert output["sources"][0]["source"] == "aula-01-tecnica-do-supino.srt"


def test_conversation_continues_across_http_calls_with_the_real_model(rag_server):
    chat = RemoteRunnable(f"{rag_server}/rag", timeout=180, headers={**AUTH, THREAD_HEADER: "integration-memory"})

    chat.invoke({"question": "Quanta proteína devo comer por dia?"})
    second = chat.invoke({"question": "E quantas horas devo dormir?"})

    assert second["sources"] and second["sources"][0]["source"] == "guia-nutricao-e-recuperacao.docx"
    assert second["standalone_question"] != "E quantas horas devo dormir?"  # rewritten from the conversation
