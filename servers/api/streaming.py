"""One answer from the RAG server, delivered as JSON or as Server-Sent Events (token, sources, done, error).

Errors that happen before the first event (RAG server down, its own 4xx/5xx) become a plain HTTP
error; after the stream has started they can only be told as an `error` event, which ends it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, aclosing

from fastapi import HTTPException, Request
from fastapi.responses import StreamingResponse

from core.contracts import StreamEvent
from servers.api.errors import rag_failure
from servers.api.metrics import OPEN_STREAMS
from servers.api.rag_client import RagError, RagUnavailable, TurnEvent

# Proxies (nginx, Render's) must pass each event on as it comes.
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
SSE_RESPONSES = {200: {"description": "JSON, or Server-Sent Events with `Accept: text/event-stream`",
                       "content": {"text/event-stream": {"schema": {"type": "string"}}}}}

Finish = Callable[[str, list], Awaitable[dict]]


def wants_stream(request: Request) -> bool:
    return "text/event-stream" in request.headers.get("accept", "")


async def _events(turn: AsyncIterator[TurnEvent], finish: Finish) -> AsyncIterator[tuple[StreamEvent, dict]]:
    parts: list[str] = []
    sources: list = []
    async with aclosing(turn):
        async for event in turn:
            if event.kind == StreamEvent.TOKEN:
                parts.append(event.data)
                yield StreamEvent.TOKEN, {"text": event.data}
            elif event.kind == StreamEvent.SOURCES:
                sources = event.data
                yield StreamEvent.SOURCES, {"sources": sources}
            elif event.kind == StreamEvent.DONE:
                answer = (event.data or {}).get("answer") or "".join(parts)
                yield StreamEvent.DONE, await finish(answer, sources)


async def collect(turn: AsyncIterator[TurnEvent], finish: Finish) -> dict:
    """The whole answer as one JSON body."""
    result = None
    async with aclosing(_events(turn, finish)) as events:
        async for kind, data in events:
            if kind == StreamEvent.DONE:
                result = data
    if result is None:
        raise RagUnavailable("The RAG server ended the answer before it was complete")
    return result


def sse(kind: StreamEvent, data: dict) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def stream(turn: AsyncIterator[TurnEvent], finish: Finish, cleanup: AsyncExitStack) -> StreamingResponse:
    """SSE; `cleanup` (the conversation lock) is closed when the stream ends, however it ends (a client
    that disconnects cancels it)."""
    events = _events(turn, finish)
    try:
        first = await anext(events)
    except BaseException:
        await events.aclose()
        await cleanup.aclose()
        raise

    async def body() -> AsyncIterator[str]:
        async with cleanup, aclosing(events):
            with OPEN_STREAMS.track_inprogress():
                yield sse(*first)
                try:
                    async for kind, data in events:
                        yield sse(kind, data)
                except (RagUnavailable, RagError) as error:
                    status, detail = rag_failure(error)
                    yield sse(StreamEvent.ERROR, {"status": status, "detail": detail})
                except HTTPException as error:  # e.g. the conversation was deleted meanwhile
                    yield sse(StreamEvent.ERROR, {"status": error.status_code, "detail": error.detail})

    return StreamingResponse(body(), media_type="text/event-stream", headers=STREAM_HEADERS)
