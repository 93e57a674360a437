"""Retrieval agent: cached answer, or rewrite the question from the conversation → retrieve → answer with citations."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from chains.answer import rewrite_question
from core.services import get_services
from graphs.nodes import generate_answer, not_covered, search
from graphs.retrieval.state import RetrievalInput, RetrievalOutput, RetrievalState

# Set by the server (never by clients: it replaces their `configurable`) when it already missed the cache.
CHECKED_CACHE_KEY = "checked_cache_key"


def lookup(state: RetrievalState, config: RunnableConfig) -> dict:
    """A first question is answered from the cache when the same one was answered on the same index."""
    if state.get("messages"):
        return {"cache_key": None, "cached": False}  # a follow-up depends on its conversation
    if checked := config.get("configurable", {}).get(CHECKED_CACHE_KEY):
        return {"cache_key": checked, "cached": False}  # the server looked it up before calling: a miss
    cache = get_services().cache
    key = cache.key(state["question"], state.get("material_ids"), state.get("k"))
    hit = cache.get(key)
    if hit is None:
        return {"cache_key": key, "cached": False}
    turn = [HumanMessage(state["question"]), AIMessage(hit["answer"])]
    return {**hit, "cache_key": None, "cached": True, "messages": turn}


def route_after_lookup(state: RetrievalState) -> str:
    return END if state["cached"] else "rewrite"


def rewrite(state: RetrievalState) -> dict:
    services = get_services()
    history = state.get("messages", [])
    if services.llm is None or not history:
        standalone = rewrite_question(None, history, state["question"])
    else:
        with services.llm_lock:
            standalone = rewrite_question(services.llm, history, state["question"])
    return {"standalone_question": standalone, "sources": [], "answer": ""}


def retrieve(state: RetrievalState) -> dict:
    return {"sources": search(state["standalone_question"], state.get("material_ids"), state.get("k"))}


def route_after_retrieval(state: RetrievalState) -> str:
    return "generate" if state["sources"] else "not_covered"


def generate(state: RetrievalState, config: RunnableConfig) -> dict:
    answer = generate_answer(state["standalone_question"], state["sources"], state.get("messages", []), config)
    return {"answer": answer, "messages": [HumanMessage(state["question"]), AIMessage(answer)]}


def answer_not_covered(state: RetrievalState) -> dict:
    result = not_covered()
    return {**result, "messages": [HumanMessage(state["question"]), AIMessage(result["answer"])]}


def remember(state: RetrievalState) -> dict:
    if key := state.get("cache_key"):
        answer = {name: state[name] for name in ("answer", "sources", "standalone_question")}
        get_services().cache.put(key, answer)
    return {}


builder = StateGraph(RetrievalState, input_schema=RetrievalInput, output_schema=RetrievalOutput)
builder.add_node("lookup", lookup)
builder.add_node("rewrite", rewrite)
builder.add_node("retrieve", retrieve)
builder.add_node("generate", generate)
builder.add_node("not_covered", answer_not_covered)
builder.add_node("remember", remember)
builder.add_edge(START, "lookup")
builder.add_conditional_edges("lookup", route_after_lookup, ["rewrite", END])
builder.add_edge("rewrite", "retrieve")
builder.add_conditional_edges("retrieve", route_after_retrieval, ["generate", "not_covered"])
builder.add_edge("generate", "remember")
builder.add_edge("not_covered", "remember")
builder.add_edge("remember", END)

# Compiled without a checkpointer for `langgraph dev`, which brings its own; the servers compile with theirs.
graph = builder.compile()
