"""Nodes the two graphs share: retrieve passages, answer from them, or say the materials do not cover it."""

from __future__ import annotations

from langchain_core.messages import AnyMessage
from langchain_core.runnables import RunnableConfig

from chains.answer import answer_messages, extractive_answer
from chains.prompts import NOT_COVERED
from chains.sources import passages_from_sources, source_list
from core.retrieval import Passage
from core.services import get_services


def relevant(passages: list[Passage], min_similarity: float) -> list[Passage]:
    """Passages worth answering from; none when even the best is a poor match for the question."""
    similarities = [passage.similarity for passage in passages if passage.similarity is not None]
    if similarities and max(similarities) < min_similarity:
        return []
    return passages


def search(question: str, material_ids: list[str] | None, k: int | None) -> list[dict]:
    services = get_services()
    passages = services.retriever.search(question, k or services.settings.retrieval_k, material_ids or None)
    return source_list(relevant(passages, services.settings.min_relevance))


def generate_answer(question: str, sources: list[dict], history: list[AnyMessage], config: RunnableConfig) -> str:
    services = get_services()
    passages = passages_from_sources(sources)
    if services.llm is None:
        return extractive_answer(passages)
    with services.llm_lock:
        response = services.llm.invoke(
            answer_messages(question, passages, history), config={**config, "tags": ["answer"]}
        )
    return str(response.content).strip()


def not_covered() -> dict:
    return {"answer": NOT_COVERED, "sources": []}
