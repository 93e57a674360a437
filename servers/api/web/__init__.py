"""The reference chat page (`/app`): plain HTML, JavaScript and CSS served as they are, no build step.

It is the documented example of the API server's contract for frontend developers (README: "Frontend"):
log in, conversations, answers streamed over Server-Sent Events with their sources."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

PAGE_PATH = "/app"
STATIC = Path(__file__).parent / "static"
# The page loads and calls nothing but this server: no inline script or style, no other origin, no framing.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; base-uri 'self'; form-action 'self'; object-src 'none'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
RAW_HEADERS = [(name.lower().encode(), value.encode()) for name, value in PAGE_HEADERS.items()]


class PageFiles(StaticFiles):
    """Static files with the page's security headers on every file and redirect they answer."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *RAW_HEADERS]
            await send(message)

        await super().__call__(scope, receive, send_with_headers)


def mount_chat_page(app: FastAPI) -> None:
    app.mount(PAGE_PATH, PageFiles(directory=STATIC, html=True), name="chat-page")
