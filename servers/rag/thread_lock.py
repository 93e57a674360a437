"""One turn at a time per conversation: requests to /rag and /chat with the same X-Thread-Id queue up.

Two turns running at once on one thread would both start from the same checkpoint and one would be
lost. The lock lives in the key-value layer: Redis (every RAG server process) or process memory. It is
held until the response, stream included, has been sent.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from core.contracts import THREAD_HEADER
from core.kv import LockTimeout, StoreUnavailable

LOCKED_PREFIXES = ("/rag/", "/chat/")
LEASE_SECONDS = 300  # a holder that died frees the thread after this
WAIT_SECONDS = 120


def memory_unavailable(reason: str) -> JSONResponse:
    detail = f"Conversation memory is unavailable ({reason}); try again shortly"
    return JSONResponse({"detail": detail}, 503, {"Retry-After": "5"})


class ThreadLockMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        thread_id = Headers(scope=scope).get(THREAD_HEADER) if scope["type"] == "http" else None
        if not thread_id or not scope["path"].startswith(LOCKED_PREFIXES):
            await self.app(scope, receive, send)
            return
        async with AsyncExitStack() as stack:
            lock = scope["app"].state.kv.thread_lock(thread_id, lease_seconds=LEASE_SECONDS, wait_seconds=WAIT_SECONDS)
            try:
                await stack.enter_async_context(lock)
            except StoreUnavailable as error:
                await memory_unavailable(str(error))(scope, receive, send)
                return
            except LockTimeout:
                detail = f"Another message of conversation {thread_id} is still being answered; try again"
                await JSONResponse({"detail": detail}, 409)(scope, receive, send)
                return
            await self.app(scope, receive, send)
