"""The graphs as LangServe routes: /rag and /chat (conversations, service token), /ask (one question) and the
stateless chat playground (questions may come without a token from this machine when bound to loopback)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, FastAPI
from langgraph.graph.state import CompiledStateGraph
from langserve import add_routes

from core.contracts import TURN_ROUTE
from graphs.chat.configuration import Configuration as ChatConfiguration
from graphs.chat.graph import builder as chat_builder
from graphs.retrieval.configuration import Configuration as RetrievalConfiguration
from graphs.retrieval.graph import builder as retrieval_builder
from servers.rag.input_guard import ConversationInput, PlaygroundConversation, QuestionInput, checked_run
from servers.rag.run_config import one_off_run, threaded_run
from servers.rag.security import LocalOrServiceToken, ServiceToken, ServiceTokenOrPlaygroundPass
from servers.rag.turns import playground_runnable, turn_runnable


@dataclass(frozen=True)
class AgentGraphs:
    remembering: list[CompiledStateGraph]  # /rag and /chat: the lifespan attaches their checkpointer
    one_off: CompiledStateGraph  # /ask (and /query): no checkpointer, nothing left behind


def add_agent_routes(app: FastAPI) -> AgentGraphs:
    """Adds the routes; returns the graphs they serve."""
    rag_graph = retrieval_builder.compile(name="rag")
    chat_graph = chat_builder.compile(name="chat")
    questions = Depends(checked_run(QuestionInput, RetrievalConfiguration))
    conversations = Depends(checked_run(ConversationInput, ChatConfiguration))
    # Their playgrounds are reached from a browser with a playground pass (servers/rag/security.py).
    add_routes(app, rag_graph, path="/rag", per_req_config_modifier=threaded_run(RetrievalConfiguration),
               dependencies=[*ServiceTokenOrPlaygroundPass, questions])
    add_routes(app, chat_graph, path="/chat", per_req_config_modifier=threaded_run(ChatConfiguration),
               dependencies=[*ServiceTokenOrPlaygroundPass, conversations])
    # One question, no memory (the API server's /chat).
    ask_graph = retrieval_builder.compile(name="ask")
    add_routes(app, ask_graph, path="/ask", per_req_config_modifier=one_off_run(RetrievalConfiguration),
               dependencies=[*LocalOrServiceToken, questions])
    # The same graphs as lean streams of sources, tokens and the final state (what the API server relays).
    # Only `stream`: a stream of dicts has no sum that `invoke` could return.
    streams = ["stream", "input_schema", "output_schema", "config_schema"]
    add_routes(app, turn_runnable(chat_graph), path=f"/chat{TURN_ROUTE}", enabled_endpoints=streams,
               per_req_config_modifier=threaded_run(ChatConfiguration), dependencies=[*ServiceToken, conversations])
    add_routes(app, turn_runnable(ask_graph), path=f"/ask{TURN_ROUTE}", enabled_endpoints=streams,
               per_req_config_modifier=one_off_run(RetrievalConfiguration),
               dependencies=[*LocalOrServiceToken, questions])
    add_routes(app, playground_runnable(chat_builder.compile(name="chat-playground")), path="/chat-playground",
               playground_type="chat",
               dependencies=[*LocalOrServiceToken, Depends(checked_run(PlaygroundConversation, ChatConfiguration))])
    return AgentGraphs(remembering=[rag_graph, chat_graph], one_off=ask_graph)
