"""Steps both graphs share: make a follow-up standalone, retrieve passages, answer from them (or say the
materials do not cover the question), and call the model within the process's generation slots."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from langchain_core.messages import AnyMessage
from langchain_core.runnables import RunnableConfig

from chains.answer import (
    answer_messages,
    clean_rewrite,
    earlier_questions,
    extractive_answer,
    focused_passages,
    grounded_answer,
    rewrite_messages,
    rewrite_without_model,
)
from chains.prompts import NOT_COVERED
from chains.sources import passages_from_sources, source_list
from core.contracts import ANSWER_TAG, REWRITE_TAG
from graphs.configuration import BaseConfiguration
from knowledge.metrics import ANSWERS, STAGE_SECONDS, count_tokens, generation_slot
from knowledge.retrieval import Evidence, Passage
from knowledge.services import get_services


def relevant(passages: list[Passage], evidence: Evidence, min_relevance: float) -> list[Passage]:
    """Passages worth answering from; none when the materials bear on the question no more than text about
    unrelated subjects does (see `Evidence.relevance`). A threshold of 0 turns the gate off."""
    return passages if min_relevance <= 0 or evidence.relevance >= min_relevance else []


async def generate(messages: list[AnyMessage], configuration: BaseConfiguration, config: RunnableConfig,
                   tag: str) -> str | None:
    """The model's reply (tagged, so that clients stream only the answer), or None without a model."""
    models = get_services().chat_models
    model = await models.aget(configuration.model, configuration.temperature, configuration.max_tokens)
    if model is None:
        return None
    async with generation_slot(models):
        with STAGE_SECONDS.labels("generate" if tag == ANSWER_TAG else "rewrite").time():
            response = await model.ainvoke(messages, config={**config, "tags": [*(config.get("tags") or []), tag]})
    count_tokens(response, models.provider)
    return str(response.content).strip()


async def standalone_question(question: str, history: Sequence[AnyMessage], configuration: BaseConfiguration,
                              config: RunnableConfig) -> str:
    """A follow-up made standalone from the conversation; a first question as it is."""
    if not earlier_questions(history):
        return question
    rewritten = await generate(rewrite_messages(configuration.rewrite_prompt, history, question), configuration,
                               config, REWRITE_TAG)
    if rewritten is None:
        return rewrite_without_model(history, question)
    return clean_rewrite(rewritten, history, question)


async def search(question: str, material_ids: list[str] | None, configuration: BaseConfiguration) -> list[dict]:
    """The sources of an answer (embedding and search run off the event loop); none when nothing is relevant."""
    retriever = get_services().retriever
    arguments = (question, configuration.k, material_ids or None, configuration.retrieval_mode)
    with STAGE_SECONDS.labels("search").time():
        if configuration.min_relevance <= 0:  # no gate: the evidence is not worth its sentences' embedding
            return source_list(await asyncio.to_thread(retriever.search, *arguments))
        passages, evidence = await asyncio.to_thread(retriever.search_with_evidence, *arguments)
    return source_list(relevant(passages, evidence, configuration.min_relevance))


async def answer(question: str, sources: list[dict], history: Sequence[AnyMessage],
                 configuration: BaseConfiguration, config: RunnableConfig) -> str:
    passages = passages_from_sources(sources)
    focused = focused_passages(question, passages)
    messages = answer_messages(configuration.answer_prompt, question, focused, history)
    written = await generate(messages, configuration, config, ANSWER_TAG)
    ANSWERS.labels("extractive" if written is None else "model").inc()
    if written is None:
        return extractive_answer(question, passages)
    return grounded_answer(written, question, focused, configuration.answer_prompt)


def not_covered() -> dict:
    ANSWERS.labels("not_covered").inc()
    return {"answer": NOT_COVERED, "sources": []}
