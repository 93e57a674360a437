"""Who may call the RAG server: the service token (RAG_SERVICE_TOKEN, or the one generated under DATA_DIR).

Every route that reads or changes stored data needs it, in every configuration. Question routes (/query, /ask,
the chat playground) answer without it only when the server is bound to loopback and the caller is local; a
Host-header allowlist (ALLOWED_HOSTS) keeps a web page from reaching them through DNS rebinding.
"""

from __future__ import annotations

import secrets
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


def has_service_token(request: Request) -> bool:
    """Whether the request carries the service token (LangServe's config modifiers have no dependencies)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(token) and _matches(request, token)


def _check_token(request: Request, credentials: HTTPAuthorizationCredentials | None) -> None:
    if credentials is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Missing bearer token (the RAG server's service token)",
                            {"WWW-Authenticate": "Bearer"})
    if not _matches(request, credentials.credentials):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Invalid service token", {"WWW-Authenticate": "Bearer"})


# The dependencies are async although they do not await: FastAPI runs a sync dependency in a worker thread.
async def require_service_token(request: Request, credentials: Credentials) -> None:
    _check_token(request, credentials)


async def require_token_unless_local(request: Request, credentials: Credentials) -> None:
    """Questions from this machine to a server bound to loopback need no token; anything else does."""
    client = request.client.host if request.client else ""
    if credentials is None and request.app.state.questions_open and is_loopback(client):
        return
    _check_token(request, credentials)


ServiceToken = [Depends(require_service_token)]
LocalOrServiceToken = [Depends(require_token_unless_local)]
