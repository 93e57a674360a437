"""Chat agent: multi-turn, remembers the conversation, consults the materials unless a message is small talk."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from chains.answer import is_small_talk, recent_history, rewrite_question
from chains.prompts import CHAT_SYSTEM, SMALL_TALK_REPLY
from core.services import get_services
from graphs.chat.state import ChatInput, ChatOutput, ChatState
from graphs.nodes import generate_answer, not_covered, search


def _question(state: ChatState) -> str:
    return str(state["messages"][-1].content)


def route(state: ChatState) -> str:
    return "respond" if is_small_talk(_question(state)) else "retrieve"


def retrieve(state: ChatState) -> dict:
    services = get_services()
    history = state["messages"][:-1]
    if services.llm is None or not history:
        standalone = rewrite_question(None, history, _question(state))
    else:
        with services.llm_lock:
            standalone = rewrite_question(services.llm, history, _question(state))
    return {"standalone_question": standalone, "sources": search(standalone, state.get("material_ids"), state.get("k"))}


def route_after_retrieval(state: ChatState) -> str:
    return "generate" if state["sources"] else "not_covered"


def generate(state: ChatState, config: RunnableConfig) -> dict:
    answer = generate_answer(_question(state), state["sources"], state["messages"][:-1], config)
    return {"answer": answer, "messages": [AIMessage(answer)]}


def respond(state: ChatState, config: RunnableConfig) -> dict:
    services = get_services()
    if services.llm is None:
        answer = SMALL_TALK_REPLY
    else:
        with services.llm_lock:
            response = services.llm.invoke(
                [SystemMessage(CHAT_SYSTEM), *recent_history(state["messages"][:-1]), HumanMessage(_question(state))],
                config={**config, "tags": ["answer"]},
            )
        answer = str(response.content).strip()
    return {"answer": answer, "sources": [], "messages": [AIMessage(answer)]}


def answer_not_covered(state: ChatState) -> dict:
    result = not_covered()
    return {**result, "messages": [AIMessage(result["answer"])]}


builder = StateGraph(ChatState, input_schema=ChatInput, output_schema=ChatOutput)
builder.add_node("retrieve", retrieve)
builder.add_node("generate", generate)
builder.add_node("respond", respond)
builder.add_node("not_covered", answer_not_covered)
builder.add_conditional_edges(START, route, ["retrieve", "respond"])
builder.add_conditional_edges("retrieve", route_after_retrieval, ["generate", "not_covered"])
builder.add_edge("generate", END)
builder.add_edge("respond", END)
builder.add_edge("not_covered", END)

# Compiled without a checkpointer for `langgraph dev`, which brings its own; the servers compile with theirs.
graph = builder.compile()
