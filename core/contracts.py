"""Names two processes agree on: graph tags and node names, HTTP headers, SSE event names.

The RAG server, the API server, their clients and the tests import these; none of them repeats the string.
"""

from __future__ import annotations

from enum import StrEnum

# Tag on the model call whose tokens are the answer a student reads (streamed to clients token by token).
ANSWER_TAG = "answer"
# Tag on the model call that turns a follow-up into a standalone question (never streamed to students).
REWRITE_TAG = "rewrite"
# The node whose output carries the sources of an answer (the API server sends them before the tokens).
RETRIEVE_NODE = "retrieve"

# Beside /ask and /chat, the RAG server serves `/ask/turn` and `/chat/turn`: lean streams of one answer whose
# chunks are `{"sources": [...]}`, `{"token": "..."}`… and `{"done": {...}}` (keys: StreamEvent values).
TURN_ROUTE = "/turn"

# The conversation a /rag or /chat call continues; set by the API server, never taken from a request body.
THREAD_HEADER = "X-Thread-Id"

# The request a log line belongs to: taken from the caller or made by the first server, sent on to the RAG server
# and recorded with the jobs a request queues.
REQUEST_ID_HEADER = "X-Request-Id"


class StreamEvent(StrEnum):
    """Server-Sent Events of the API server's streamed answers, in the order they come."""

    SOURCES = "sources"
    TOKEN = "token"
    DONE = "done"
    ERROR = "error"
