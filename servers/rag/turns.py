"""Lean streams of one answer, for clients that show it as it is written: the API server (`/ask/turn`,
`/chat/turn`) and the chat playground (`/chat-playground`).

Each is a generator over `graph.astream(stream_mode=["messages", "updates", "values"])` that yields only what a
client shows — the sources once, the answer's tokens, the final state — instead of every callback event of
`astream_events` (a third of the bytes and of the work on both sides; see bench/concurrency.py).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig, RunnableGenerator
from langgraph.graph.state import CompiledStateGraph
from pydantic import BaseModel, Field

from chains.sources import sources_note
from core.contracts import ANSWER_TAG, RETRIEVE_NODE, StreamEvent
from knowledge.metrics import TIME_TO_FIRST_TOKEN


async def turn_chunks(graph: CompiledStateGraph, graph_input: dict,
                      config: RunnableConfig | None = None) -> AsyncIterator[dict]:
    """`{"sources": [...]}` once, `{"token": "..."}` per piece of the answer (the whole answer at once when no
    model wrote it: cache, extractive), then `{"done": <the graph's output>}`."""
    sources_sent = streamed = False
    final: dict = {}
    started = time.perf_counter()
    async for mode, payload in graph.astream(graph_input, config, stream_mode=["messages", "updates", "values"]):
        if mode == "messages":
            chunk, metadata = payload
            if isinstance(chunk, AIMessageChunk) and ANSWER_TAG in metadata.get("tags", []) and chunk.content:
                if not streamed:
                    TIME_TO_FIRST_TOKEN.observe(time.perf_counter() - started)
                streamed = True
                yield {StreamEvent.TOKEN.value: str(chunk.content)}
        elif mode == "updates":
            update = payload.get(RETRIEVE_NODE) or {}
            if "sources" in update and not sources_sent:
                sources_sent = True
                yield {StreamEvent.SOURCES.value: update["sources"]}
        else:
            final = payload
    if not sources_sent:
        yield {StreamEvent.SOURCES.value: final.get("sources", [])}
    if not streamed and final.get("answer"):
        yield {StreamEvent.TOKEN.value: final["answer"]}
    yield {StreamEvent.DONE.value: final}


def turn_runnable(graph: CompiledStateGraph) -> RunnableGenerator:
    """The graph as a route streaming `turn_chunks`; the run's config (thread, configuration) reaches the graph."""

    async def transform(inputs: AsyncIterator[dict], config: RunnableConfig) -> AsyncIterator[dict]:
        graph_input: dict = {}
        async for item in inputs:
            graph_input = item
        async for chunk in turn_chunks(graph, graph_input, config):
            yield chunk

    return RunnableGenerator(transform, name=f"{graph.name}-turn").with_types(
        input_type=graph.builder.input_schema, output_type=dict)


class PlaygroundInput(BaseModel):
    messages: list[HumanMessage | AIMessage | SystemMessage] = Field(
        ..., json_schema_extra={"widget": {"type": "chat", "input": "messages"}}
    )


def playground_runnable(stateless_chat_graph: CompiledStateGraph) -> RunnableGenerator:
    """The chat playground resends the whole conversation each turn, so this route keeps no state. Its output
    can only be text: the answer's tokens, then its sources as a note."""

    async def transform(inputs: AsyncIterator[dict]) -> AsyncIterator[str]:
        request: dict = {}
        note = ""
        async for item in inputs:
            request = item
        messages = request["messages"] if isinstance(request, dict) else request.messages
        async for chunk in turn_chunks(stateless_chat_graph, {"messages": messages}):
            if StreamEvent.TOKEN.value in chunk:
                yield chunk[StreamEvent.TOKEN.value]
            elif StreamEvent.SOURCES.value in chunk:
                note = sources_note(chunk[StreamEvent.SOURCES.value])
        if note:
            yield note

    return RunnableGenerator(transform).with_types(input_type=PlaygroundInput, output_type=str)
