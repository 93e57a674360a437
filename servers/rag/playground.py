"""Runnables LangServe serves beside the graphs: the stateless chat-playground route."""

from __future__ import annotations

from collections.abc import AsyncIterator

from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableGenerator
from langgraph.graph.state import CompiledStateGraph
from pydantic import BaseModel, Field

from core.contracts import ANSWER_TAG


class PlaygroundInput(BaseModel):
    messages: list[HumanMessage | AIMessage | SystemMessage] = Field(
        ..., json_schema_extra={"widget": {"type": "chat", "input": "messages"}}
    )


async def stream_answer(graph: CompiledStateGraph, graph_input: dict, config: dict | None = None) -> AsyncIterator[str]:
    """The answer's tokens as the model writes them; a whole answer when no model wrote it (extractive)."""
    streamed = False
    final: dict = {}
    async for mode, payload in graph.astream(graph_input, config, stream_mode=["messages", "values"]):
        if mode == "values":
            final = payload
            continue
        chunk, metadata = payload
        if isinstance(chunk, AIMessageChunk) and ANSWER_TAG in metadata.get("tags", []) and chunk.content:
            streamed = True
            yield str(chunk.content)
    if not streamed and final.get("answer"):
        yield final["answer"]


def playground_runnable(stateless_chat_graph: CompiledStateGraph) -> RunnableGenerator:
    """The chat playground resends the whole conversation each turn, so this route keeps no state."""

    async def transform(inputs: AsyncIterator[dict]) -> AsyncIterator[str]:
        request: dict = {}
        async for item in inputs:
            request = item
        messages = request["messages"] if isinstance(request, dict) else request.messages
        async for token in stream_answer(stateless_chat_graph, {"messages": messages}):
            yield token

    return RunnableGenerator(transform).with_types(input_type=PlaygroundInput, output_type=str)
