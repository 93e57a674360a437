"""The API server (port 8000): users and roles, conversations, materials and maintenance; the RAG server is
reached over HTTP only (RAG_SERVER_URL with RAG_SERVICE_TOKEN)."""

from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

from core.contracts import REQUEST_ID_HEADER
from core.kv import RedisStore, make_store
from core.logs import configure_logging
from core.settings import Settings, get_settings
from servers.api import db
from servers.api.accounts import ensure_admin
from servers.api.drive.credentials import drive_configured
from servers.api.drive.queue import DriveQueue
from servers.api.errors import add_exception_handlers
from servers.api.metrics import api_exposition
from servers.api.proxies import trusted_networks
from servers.api.rag_client import RagClient
from servers.api.routes import auth, chat, conversations, drive, maintenance, materials, system, users
from servers.api.security import Tokens
from servers.api.web import mount_chat_page
from servers.body_limit import MIB, MULTIPART_OVERHEAD, BodyLimitMiddleware, route_limits
from servers.metrics_route import metrics_tokens
from servers.metrics_route import router as metrics_router
from servers.observability import RequestObservability

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
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        engine, app.state.sessions = db.open_database(settings)
        app.state.engine = engine
        ensure_first_admin(app.state.sessions, settings)
        app.state.kv = make_store(settings)
        app.state.redis_ping = app.state.kv.ping if isinstance(app.state.kv, RedisStore) else None
        app.state.rag = RagClient(settings)
        app.state.tokens = Tokens(settings)
        app.state.drive = DriveQueue(settings, app.state.sessions)
        if drive_configured(settings):
            app.state.drive.start_inline()
        app.state.started_at = time.time()
        yield
        app.state.drive.stop_inline()
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
    app.state.trusted_proxies = trusted_networks(settings.trusted_proxies)
    app.state.metrics, app.state.metrics_tokens = api_exposition(), metrics_tokens(settings)
    uploads = settings.max_upload_bytes + MULTIPART_OVERHEAD
    app.add_middleware(BodyLimitMiddleware, limit_for=route_limits(
        int(settings.max_json_mb * MIB),
        {("POST", "/materials"): uploads, ("POST", "/maintenance/restore"): maintenance.RESTORE_LIMIT}))
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=True,
        allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "Accept", REQUEST_ID_HEADER],
        expose_headers=[REQUEST_ID_HEADER],
    )
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_hosts)
    app.add_middleware(RequestObservability)  # outermost: sees every answer, refusals included

    add_exception_handlers(app)
    for module in (system, auth, users, chat, conversations, materials, drive, maintenance):
        app.include_router(module.router)
    app.include_router(metrics_router)
    mount_chat_page(app)
    return app
