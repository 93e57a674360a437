"""Chat agent: multi-turn, remembers the conversation, consults the materials unless a message is small talk."""

from __future__ import annotations

from typing import Literal

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from chains.answer import chat_messages, is_small_talk
from chains.prompts import SMALL_TALK_REPLY
from core.contracts import ANSWER_TAG, RETRIEVE_NODE
from graphs import nodes
from graphs.chat.configuration import Configuration
from graphs.chat.state import ChatInput, ChatOutput, ChatState


def _question(state: ChatState) -> str:
    return str(state["messages"][-1].content)


def route(state: ChatState) -> Literal["respond", "retrieve"]:
    return "respond" if is_small_talk(_question(state)) else RETRIEVE_NODE


async def retrieve(state: ChatState, config: RunnableConfig) -> dict:
    configuration = Configuration.from_runnable_config(config)
    standalone = await nodes.standalone_question(_question(state), state["messages"][:-1], configuration, config)
    return {"standalone_question": standalone,
            "sources": await nodes.search(standalone, state.get("material_ids"), configuration)}


def route_after_retrieval(state: ChatState) -> Literal["generate", "not_covered"]:
    return "generate" if state["sources"] else "not_covered"


async def generate(state: ChatState, config: RunnableConfig) -> dict:
    configuration = Configuration.from_runnable_config(config)
    answer = await nodes.answer(_question(state), state["sources"], state["messages"][:-1], configuration, config)
    return {"answer": answer, "messages": [AIMessage(answer)]}


async def respond(state: ChatState, config: RunnableConfig) -> dict:
    configuration = Configuration.from_runnable_config(config)
    messages = chat_messages(configuration.chat_prompt, _question(state), state["messages"][:-1])
    answer = await nodes.generate(messages, configuration, config, ANSWER_TAG) or SMALL_TALK_REPLY
    return {"answer": answer, "sources": [], "messages": [AIMessage(answer)]}


async def answer_not_covered(state: ChatState) -> dict:
    result = nodes.not_covered()
    return {**result, "messages": [AIMessage(result["answer"])]}


builder = StateGraph(ChatState, context_schema=Configuration, input_schema=ChatInput, output_schema=ChatOutput)
builder.add_node(RETRIEVE_NODE, retrieve)
builder.add_node("generate", generate)
builder.add_node("respond", respond)
builder.add_node("not_covered", answer_not_covered)
builder.add_conditional_edges(START, route, [RETRIEVE_NODE, "respond"])
builder.add_conditional_edges(RETRIEVE_NODE, route_after_retrieval, ["generate", "not_covered"])
builder.add_edge("generate", END)
builder.add_edge("respond", END)
builder.add_edge("not_covered", END)

# Compiled without a checkpointer for `langgraph dev`, which brings its own; the servers compile with theirs.
graph = builder.compile(name="chat")
