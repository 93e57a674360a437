"""Who may call the RAG server: the service token (RAG_SERVICE_TOKEN, or the one generated under DATA_DIR).

Every route that reads or changes stored data needs it, in every configuration. Question routes (/query, /ask,
the chat playground) answer without it only when the server is bound to loopback and the caller is local; a
Host-header allowlist (ALLOWED_HOSTS) keeps a web page from reaching them through DNS rebinding.

A browser cannot send a bearer header from LangServe's playgrounds, so whoever types the service token into
`/playground-login` gets a playground pass instead: a cookie (HttpOnly, SameSite=Strict) holding an expiry and
an HMAC of it under the service token, valid for an hour and only on the question and conversation routes (/rag,
/chat, /ask, /query, the chat playground), never on the data routes, and only from this server's own origin.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from core.settings import Settings, is_loopback

bearer = HTTPBearer(auto_error=False, description="RAG_SERVICE_TOKEN (or DATA_DIR/secrets/rag-service-token)")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


class UnsafeBind(RuntimeError):
    """The server would listen beyond this machine with a token nobody set on purpose."""


def check_bind(host: str, settings: Settings) -> None:
    if not is_loopback(host) and settings.rag_service_token is None:
        raise UnsafeBind(
            f"Refusing to listen on {host} without RAG_SERVICE_TOKEN: set it (at least 32 random characters) here "
            "and on the API server, or bind 127.0.0.1"
        )


def _matches(request: Request, token: str) -> bool:
    return secrets.compare_digest(token.encode(), request.app.state.service_token.encode())


PLAYGROUND_COOKIE = "dnaforca_playground"
PLAYGROUND_PASS_SECONDS = 3600


def playground_pass(service_token: str, expires: int) -> str:
    signature = hmac.new(service_token.encode(), f"playground:{expires}".encode(), hashlib.sha256).hexdigest()
    return f"{expires}.{signature}"


def _same_origin(request: Request) -> bool:
    """Browsers send Origin on every cross-origin request and on same-origin POSTs: a pass never serves a page
    of another origin (even a same-site one, which SameSite would let through)."""
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.headers.get('host', '')}"


def has_playground_pass(request: Request) -> bool:
    value = request.cookies.get(PLAYGROUND_COOKIE, "")
    expires, _, _ = value.partition(".")
    if not expires.isdigit() or int(expires) < time.time() or not _same_origin(request):
        return False
    return hmac.compare_digest(value.encode(), playground_pass(request.app.state.service_token, int(expires)).encode())


def has_service_token(request: Request) -> bool:
    """Whether the request carries the service token or a playground pass (LangServe's config modifiers have
    no dependencies)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return (scheme.lower() == "bearer" and bool(token) and _matches(request, token)) or has_playground_pass(request)


def _check_token(request: Request, credentials: HTTPAuthorizationCredentials | None) -> None:
    if credentials is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Missing bearer token (the RAG server's service token)",
                            {"WWW-Authenticate": "Bearer"})
    if not _matches(request, credentials.credentials):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Invalid service token", {"WWW-Authenticate": "Bearer"})


# The dependencies are async although they do not await: FastAPI runs a sync dependency in a worker thread.
async def require_service_token(request: Request, credentials: Credentials) -> None:
    _check_token(request, credentials)


async def require_token_or_playground_pass(request: Request, credentials: Credentials) -> None:
    """The graphs' routes: the service token, or a playground pass from /playground-login."""
    if credentials is None and has_playground_pass(request):
        return
    _check_token(request, credentials)


async def require_token_unless_local(request: Request, credentials: Credentials) -> None:
    """Questions from this machine to a server bound to loopback need no token; anything else needs the token
    or a playground pass."""
    client = request.client.host if request.client else ""
    if credentials is None and request.app.state.questions_open and is_loopback(client):
        return
    await require_token_or_playground_pass(request, credentials)


ServiceToken = [Depends(require_service_token)]
ServiceTokenOrPlaygroundPass = [Depends(require_token_or_playground_pass)]
LocalOrServiceToken = [Depends(require_token_unless_local)]
