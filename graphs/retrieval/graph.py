"""Retrieval agent: cached answer, or retrieve (the question made standalone from the conversation, then its
passages) → answer with citations, or say the materials do not cover it."""

from __future__ import annotations

from typing import Literal

from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from core.contracts import RETRIEVE_NODE
from graphs import nodes
from graphs.retrieval.configuration import Configuration
from graphs.retrieval.state import RetrievalInput, RetrievalOutput, RetrievalState
from knowledge.services import get_services

# Set by the RAG server's /query (never by clients: the server builds `configurable`) after it missed the cache.
CHECKED_CACHE_KEY = "checked_cache_key"


def cache_key(question: str, material_ids: list[str] | None, configuration: Configuration) -> str:
    return get_services().cache.key(question, material_ids, configuration.fingerprint())


# The cache nodes are sync: they read the index version (SQLite) and Redis, which must not block the event loop.
def lookup(state: RetrievalState, config: RunnableConfig) -> dict:
    """A first question is answered from the cache when the same one was answered on the same index."""
    if state.get("messages"):
        return {"cache_key": None, "cached": False}  # a follow-up depends on its conversation
    if checked := config.get("configurable", {}).get(CHECKED_CACHE_KEY):
        return {"cache_key": checked, "cached": False}  # the server looked it up before calling: a miss
    key = cache_key(state["question"], state.get("material_ids"), Configuration.from_runnable_config(config))
    hit = get_services().cache.get(key)
    if hit is None:
        return {"cache_key": key, "cached": False}
    turn = [HumanMessage(state["question"]), AIMessage(hit["answer"])]
    return {**hit, "cache_key": None, "cached": True, "messages": turn}


def route_after_lookup(state: RetrievalState) -> Literal["retrieve", "__end__"]:
    return END if state["cached"] else RETRIEVE_NODE


async def retrieve(state: RetrievalState, config: RunnableConfig) -> dict:
    """The question made standalone from the conversation (a follow-up), then its passages."""
    configuration = Configuration.from_runnable_config(config)
    standalone = await nodes.standalone_question(state["question"], state.get("messages", []), configuration, config)
    return {"standalone_question": standalone, "answer": "",
            "sources": await nodes.search(standalone, state.get("material_ids"), configuration)}


def route_after_retrieval(state: RetrievalState) -> Literal["generate", "not_covered"]:
    return "generate" if state["sources"] else "not_covered"


async def generate(state: RetrievalState, config: RunnableConfig) -> dict:
    configuration = Configuration.from_runnable_config(config)
    answer = await nodes.answer(state["standalone_question"], state["sources"], state.get("messages", []),
                                configuration, config)
    return {"answer": answer, "messages": [HumanMessage(state["question"]), AIMessage(answer)]}


async def answer_not_covered(state: RetrievalState) -> dict:
    result = nodes.not_covered()
    return {**result, "messages": [HumanMessage(state["question"]), AIMessage(result["answer"])]}


def remember(state: RetrievalState) -> dict:
    if key := state.get("cache_key"):
        answer = {name: state[name] for name in ("answer", "sources", "standalone_question")}
        get_services().cache.put(key, answer)
    return {}


builder = StateGraph(RetrievalState, context_schema=Configuration, input_schema=RetrievalInput,
                     output_schema=RetrievalOutput)
builder.add_node("lookup", lookup)
builder.add_node(RETRIEVE_NODE, retrieve)
builder.add_node("generate", generate)
builder.add_node("not_covered", answer_not_covered)
builder.add_node("remember", remember)
builder.add_edge(START, "lookup")
builder.add_conditional_edges("lookup", route_after_lookup, [RETRIEVE_NODE, END])
builder.add_conditional_edges(RETRIEVE_NODE, route_after_retrieval, ["generate", "not_covered"])
builder.add_edge("generate", "remember")
builder.add_edge("not_covered", "remember")
builder.add_edge("remember", END)

# Compiled without a checkpointer for `langgraph dev`, which brings its own; the servers compile with theirs.
graph = builder.compile(name="rag")
