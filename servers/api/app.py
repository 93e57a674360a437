"""The API server (port 8000): users and roles, conversations, materials and maintenance; the RAG server is
reached over HTTP only (RAG_SERVER_URL with RAG_SERVICE_TOKEN)."""

from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from core.kv import StoreUnavailable, make_store
from core.settings import Settings, get_settings
from servers.api import db
from servers.api.accounts import AccountExists, ensure_admin
from servers.api.rag_client import RagClient, RagError, RagUnavailable
from servers.api.routes import auth, chat, conversations, drive, maintenance, materials, system, users
from servers.api.security import Tokens

log = logging.getLogger(__name__)


def ensure_first_admin(sessions, settings: Settings) -> None:
    """FIRST_ADMIN_EMAIL/FIRST_ADMIN_PASSWORD: created as admin if absent (an existing account is left alone)."""
    if settings.first_admin_email and settings.first_admin_password:
        with sessions() as session:
            password = settings.first_admin_password.get_secret_value()
            if ensure_admin(session, settings.first_admin_email, password, update_existing=False):
                log.info("Created the first admin %s", settings.first_admin_email)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        engine, app.state.sessions = db.open_database(settings)
        app.state.engine = engine
        ensure_first_admin(app.state.sessions, settings)
        app.state.kv = make_store(settings)
        app.state.rag = RagClient(settings)
        app.state.tokens = Tokens(settings)
        app.state.started_at = time.time()
        yield
        await app.state.rag.close()
        await app.state.kv.close()
        engine.dispose()

    app = FastAPI(
        title="DNA da Força AI — API server",
        version="0.1.0",
        description="Accounts, conversations with the course assistant, materials and maintenance.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=True,
        allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "Accept"],
    )

    @app.exception_handler(RagUnavailable)
    async def rag_unavailable(_: Request, error: RagUnavailable) -> JSONResponse:
        return JSONResponse({"detail": f"The assistant is unavailable right now: {error}"}, 503,
                            {"Retry-After": "10"})

    @app.exception_handler(RagError)
    async def rag_error(_: Request, error: RagError) -> JSONResponse:
        # The RAG server's client errors are the caller's (unknown material, bad file); its own failures are ours.
        status_code = error.status_code if error.status_code < 500 or error.status_code == 503 else 502
        return JSONResponse({"detail": error.detail}, status_code)

    @app.exception_handler(AccountExists)
    async def account_exists(_: Request, error: AccountExists) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, 409)

    @app.exception_handler(StoreUnavailable)
    async def store_unavailable(_: Request, error: StoreUnavailable) -> JSONResponse:
        return JSONResponse({"detail": f"Sessions are unavailable: {error}"}, 503, {"Retry-After": "5"})

    @app.exception_handler(OperationalError)
    async def database_unavailable(_: Request, error: OperationalError) -> JSONResponse:
        log.error("Database error: %s", error)
        return JSONResponse({"detail": "The database is unavailable; try again shortly"}, 503, {"Retry-After": "5"})

    for module in (system, auth, users, chat, conversations, materials, drive, maintenance):
        app.include_router(module.router)
    return app
