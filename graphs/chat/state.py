"""State of the chat agent: a conversation that consults the materials when a message needs them."""

from __future__ import annotations

from typing import Annotated, NotRequired

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

from graphs.json_schema import MaterialIds


class ChatInput(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    material_ids: NotRequired[MaterialIds]


class ChatOutput(TypedDict):
    answer: str
    sources: list[dict]


class ChatState(ChatInput, ChatOutput):
    standalone_question: str
