"""Request bodies are capped per route while they stream in, before authentication and before anything is
spooled to disk: a declared Content-Length over the cap is refused at once, a chunked body when it crosses it."""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi import HTTPException, status
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MIB = 2**20
# Multipart framing (boundaries, part headers) around an upload's files.
MULTIPART_OVERHEAD = MIB

LimitFor = Callable[[str, str], int]  # (method, path) -> bytes


class BodyTooLarge(HTTPException):
    """Raised from `receive`; an HTTPException so that FastAPI's body parsing passes it on as a 413."""

    def __init__(self, limit: int):
        # Closing the connection stops a client that is still sending the rest.
        super().__init__(status.HTTP_413_CONTENT_TOO_LARGE,
                         f"The request body is over this route's limit of {limit / MIB:g} MB", {"Connection": "close"})


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, limit_for: LimitFor):
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _refuse(send, BodyTooLarge(limit) if declared.isdigit() else None)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLarge as error:  # read outside FastAPI's body parsing (a middleware, a raw stream)
            if started:
                raise
            await _refuse(send, error)


async def _refuse(send: Send, error: BodyTooLarge | None) -> None:
    status_code = error.status_code if error else status.HTTP_400_BAD_REQUEST
    body = json.dumps({"detail": error.detail if error else "Content-Length is not a number"}).encode()
    await send({"type": "http.response.start", "status": status_code,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def route_limits(default: int, per_route: dict[tuple[str, str], int]) -> LimitFor:
    """`per_route[(method, path)]` for the routes that take uploads, `default` (JSON bodies) for the rest."""
    return lambda method, path: per_route.get((method, path), default)
