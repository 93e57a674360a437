"""State of the retrieval agent: the conversation, the current question and what was found."""

from __future__ import annotations

from typing import Annotated, NotRequired

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

from graphs.json_schema import MaterialIds


class RetrievalInput(TypedDict):
    question: str
    material_ids: NotRequired[MaterialIds]


class RetrievalOutput(TypedDict):
    answer: str
    sources: list[dict]
    standalone_question: str
    cached: bool


class RetrievalState(RetrievalInput, RetrievalOutput):
    messages: Annotated[list[AnyMessage], add_messages]
    cache_key: str | None
