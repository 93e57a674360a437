"""The graphs as LangServe routes: /rag and /chat (conversations, service token), /ask (one question) and the
stateless chat playground (questions may come without a token from this machine when bound to loopback)."""

from __future__ import annotations

from fastapi import FastAPI
from langgraph.graph.state import CompiledStateGraph
from langserve import add_routes

from graphs.chat.configuration import Configuration as ChatConfiguration
from graphs.chat.graph import builder as chat_builder
from graphs.retrieval.configuration import Configuration as RetrievalConfiguration
from graphs.retrieval.graph import builder as retrieval_builder
from servers.rag.playground import playground_runnable
from servers.rag.run_config import one_off_run, threaded_run
from servers.rag.security import LocalOrServiceToken, ServiceToken


def add_agent_routes(app: FastAPI) -> list[CompiledStateGraph]:
    """Adds the routes; returns the checkpointed graphs, whose checkpointer the lifespan attaches."""
    rag_graph = retrieval_builder.compile(name="rag")
    chat_graph = chat_builder.compile(name="chat")
    add_routes(app, rag_graph, path="/rag", per_req_config_modifier=threaded_run(RetrievalConfiguration),
               dependencies=ServiceToken)
    add_routes(app, chat_graph, path="/chat", per_req_config_modifier=threaded_run(ChatConfiguration),
               dependencies=ServiceToken)
    # One question, no memory (the API server's /chat): no checkpointer, nothing left behind.
    add_routes(app, retrieval_builder.compile(name="ask"), path="/ask",
               per_req_config_modifier=one_off_run(RetrievalConfiguration), dependencies=LocalOrServiceToken)
    add_routes(app, playground_runnable(chat_builder.compile(name="chat-playground")), path="/chat-playground",
               playground_type="chat", dependencies=LocalOrServiceToken)
    return [rag_graph, chat_graph]
