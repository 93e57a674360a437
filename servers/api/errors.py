"""What callers are told when something fails: domain errors become HTTP answers, and a server-side failure
(5xx) says what happened in plain words with a short id, never internals (URLs, hosts, raw exception text),
which go to the log under the same id."""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from core.kv import StoreUnavailable
from servers.api.accounts import AccountExists
from servers.api.rag_client import REFUSED, RagError, RagUnavailable

log = logging.getLogger(__name__)

RAG_UNAVAILABLE = "The assistant is unavailable right now: the RAG server is unreachable; try again shortly"
RAG_REFUSED = ("The assistant is unavailable: the RAG server refused the API server's credentials (a deployment "
               "error, logged for the staff)")


def error_id() -> str:
    return uuid.uuid4().hex[:10]


def rag_failure(error: RagError | RagUnavailable) -> tuple[int, str]:
    """The status and detail a caller gets for a RAG server failure. Its client errors (unknown material, bad
    file) are the caller's and pass on, except a refused service token (a 401 would end the caller's session); its
    own failures are logged and told without their text."""
    if isinstance(error, RagError) and error.status_code in REFUSED:
        log.error("The RAG server refused this server's credentials (status %s: %s): RAG_SERVICE_TOKEN must be the "
                  "RAG server's service token", error.status_code, error.detail)
        return 502, RAG_REFUSED
    if isinstance(error, RagError) and error.status_code < 500:
        return error.status_code, error.detail
    if isinstance(error, RagUnavailable):
        log.warning("RAG server unavailable: %s", error)
        return 503, RAG_UNAVAILABLE
    reference = error_id()
    log.error("RAG server error %s (status %s): %s", reference, error.status_code, error.detail)
    status_code = 503 if error.status_code == 503 else 502
    return status_code, f"The assistant failed to answer (error id {reference}); try again shortly"


async def _rag_failure(_: Request, error: RagError | RagUnavailable) -> JSONResponse:
    status_code, detail = rag_failure(error)
    headers = {"Retry-After": "10"} if status_code == 503 else None
    return JSONResponse({"detail": detail}, status_code, headers)


async def _account_exists(_: Request, error: AccountExists) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, 409)


async def _store_unavailable(_: Request, error: StoreUnavailable) -> JSONResponse:
    log.error("Key-value store unavailable: %s", error)
    return JSONResponse({"detail": "Sessions are unavailable right now; try again shortly"}, 503, {"Retry-After": "5"})


async def _database_unavailable(_: Request, error: OperationalError) -> JSONResponse:
    log.error("Database error: %s", error)
    return JSONResponse({"detail": "The database is unavailable; try again shortly"}, 503, {"Retry-After": "5"})


async def _internal_error(request: Request, error: Exception) -> JSONResponse:
    reference = error_id()
    log.error("Internal error %s on %s %s", reference, request.method, request.url.path, exc_info=error)
    return JSONResponse({"detail": f"Internal error (id {reference})"}, 500)


def add_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RagUnavailable, _rag_failure)
    app.add_exception_handler(RagError, _rag_failure)
    app.add_exception_handler(AccountExists, _account_exists)
    app.add_exception_handler(StoreUnavailable, _store_unavailable)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(Exception, _internal_error)
