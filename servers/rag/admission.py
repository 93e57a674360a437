"""Admission control for questions: a process answers LLM_MAX_CONCURRENCY at once (one with the local model)
and lets at most LLM_MAX_QUEUE more wait for a slot; past that a question is refused at once with 503 and
Retry-After, so no caller waits without bound and a burst never piles up inside the server."""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Receive, Scope, Send

# Routes that may call the model: /query, and the graphs' run endpoints (not their schemas or playground files).
QUESTION_PATHS = re.compile(r"^/(query|(rag|chat|ask|chat-playground)(/turn)?(/c/[^/]+)?/(invoke|batch|stream|"
                            r"stream_log|stream_events))$")
RETRY_AFTER_SECONDS = 5


class AdmissionMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app
        self.in_flight = 0  # one event loop per process: no lock needed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not QUESTION_PATHS.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        capacity = state.services.chat_models.max_concurrency + state.settings.llm_max_queue
        if self.in_flight >= capacity:
            await _busy(send, capacity)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


async def _busy(send: Send, capacity: int) -> None:
    detail = (f"The assistant is answering {capacity} questions on this server right now; "
              f"try again in {RETRY_AFTER_SECONDS} seconds")
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": 503,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"retry-after", str(RETRY_AFTER_SECONDS).encode())]})
    await send({"type": "http.response.body", "body": body})
