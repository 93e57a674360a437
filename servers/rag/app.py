"""The RAG server (port 8001): ingestion, queries and the two graphs (LangServe). `create_app` builds it; nothing
happens at import (`uvicorn --factory servers.rag.app:create_app`, or `dnaforca serve`)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.middleware.trustedhost import TrustedHostMiddleware

from chains.prompts import ANSWER_PREFIX
from core.checkpoints import open_checkpointer
from core.kv import make_store
from core.local_model import LocalModelUnavailable
from core.logs import configure_logging
from core.model_preparation import LocalModelUpgrade
from core.redis_checkpoint import RedisSaver
from core.redis_client import UNAVAILABLE
from core.settings import Settings, get_settings, is_loopback
from knowledge.backup import BACKUP_LIMIT, BackupError, InvalidBackup
from knowledge.jobs import JobQueue, QueueUnavailable
from knowledge.services import get_services, use_services
from knowledge.vectorstore import EmbeddingModelMismatch
from servers.body_limit import MIB, MULTIPART_OVERHEAD, BodyLimitMiddleware, route_limits
from servers.metrics_route import metrics_tokens
from servers.metrics_route import router as metrics_router
from servers.observability import RequestObservability
from servers.rag.admission import AdmissionMiddleware
from servers.rag.agents import add_agent_routes
from servers.rag.metrics import rag_exposition
from servers.rag.routes import ROUTERS
from servers.rag.security import check_bind
from servers.rag.thread_lock import ThreadLockMiddleware, memory_unavailable


def _json_error(status_code: int, headers: dict | None = None):
    async def handler(_: Request, error: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code, headers)

    return handler


async def _warm(chat_models) -> None:
    try:
        await chat_models.warm(ANSWER_PREFIX)
    except Exception:  # the first question tries again, and says why
        logging.getLogger(__name__).exception("The local chat model could not be loaded at start-up")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    check_bind(settings.rag_host, settings)
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        services = get_services()  # those registered by the caller (tests, tools), or built from the settings
        use_services(services)  # graph nodes reach them through get_services()
        app.state.services = services
        app.state.jobs = jobs = JobQueue(settings)
        if settings.inline_worker:
            jobs.start_inline()
        app.state.metrics = rag_exposition(services, jobs)
        app.state.started_at = time.time()
        app.state.queries = Counter()
        app.state.kv = make_store(settings)
        app.state.model_upgrade = None
        background = set()
        if services.chat_models.provider == "local":
            background.add(asyncio.create_task(_warm(services.chat_models), name="warm-local-model"))
        elif settings.llm_provider == "auto" and services.chat_models.provider == "extractive":
            app.state.model_upgrade = upgrade = LocalModelUpgrade(settings, services.chat_models, ANSWER_PREFIX)
            background.add(asyncio.create_task(upgrade.run(), name="local-model-upgrade"))
        async with open_checkpointer(settings) as saver:
            # LangServe serves the graphs from start-up; their checkpointer opens with the event loop.
            for graph in graphs.remembering:
                graph.checkpointer = saver
            app.state.checkpointer = saver
            app.state.redis_ping = saver.aping if isinstance(saver, RedisSaver) else None
            yield
        for task in background:
            task.cancel()
        await app.state.kv.close()
        jobs.stop_inline()

    app = FastAPI(
        title="DNA da Força AI — RAG server",
        version="0.1.0",
        description="Ingestion of course materials, retrieval and the retrieval/chat agents.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.service_token = settings.service_token()
    app.state.questions_open = is_loopback(settings.rag_host)
    app.state.metrics_tokens = metrics_tokens(settings)
    # Outermost last: Host check, CORS, body cap, admission of questions, then one turn per conversation.
    app.add_middleware(ThreadLockMiddleware)
    app.add_middleware(AdmissionMiddleware)
    uploads = max(settings.max_upload_bytes, settings.max_file_bytes) + MULTIPART_OVERHEAD
    app.add_middleware(BodyLimitMiddleware, limit_for=route_limits(
        int(settings.max_json_mb * MIB), {("POST", "/materials"): uploads, ("POST", "/restore"): BACKUP_LIMIT}))
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
    )
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_hosts)
    app.add_middleware(RequestObservability)  # outermost: sees every answer, refusals included

    app.add_exception_handler(EmbeddingModelMismatch, _json_error(409))
    app.add_exception_handler(BackupError, _json_error(409))  # a job is running, or the vectors live elsewhere
    app.add_exception_handler(InvalidBackup, _json_error(400))  # the archive itself is unsound
    app.add_exception_handler(QueueUnavailable, _json_error(503, {"Retry-After": "5"}))
    app.add_exception_handler(LocalModelUnavailable, _json_error(503))
    # Threaded calls meet a dead Redis at their lock, before anything runs (ThreadLockMiddleware); a one-off
    # call meets it at its first checkpoint.
    for error_type in UNAVAILABLE:
        app.add_exception_handler(error_type, lambda _, error: memory_unavailable("Redis is unreachable"))

    for router in ROUTERS:
        app.include_router(router)
    app.include_router(metrics_router)
    graphs = add_agent_routes(app)
    app.state.one_off_rag = graphs.one_off  # /query
    return app
