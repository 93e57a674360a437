"""The RAG server: ingestion, queries and the two graphs (LangServe) on port 8001."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections import Counter
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from langserve import add_routes

from core.backup import BackupError
from core.checkpoints import open_checkpointer
from core.jobs import JobQueue, QueueUnavailable
from core.kv import make_store
from core.local_model import LocalModelUnavailable
from core.redis_client import UNAVAILABLE
from core.services import get_services
from core.settings import get_settings
from core.vectorstore import EmbeddingModelMismatch
from graphs.chat.graph import builder as chat_builder
from graphs.retrieval.graph import builder as retrieval_builder
from servers.rag.playground import playground_runnable
from servers.rag.routes import router
from servers.rag.security import require_service_token
from servers.rag.thread_lock import ThreadLockMiddleware, memory_unavailable

THREAD_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,200}$")


def thread_from_header(config: dict, request: Request) -> dict:
    """The conversation a call continues comes from X-Thread-Id, never from the body (LangServe drops it)."""
    thread_id = request.headers.get("x-thread-id")
    if thread_id is None:
        thread_id = f"ephemeral-{uuid.uuid4().hex}"
    elif not THREAD_ID.match(thread_id):
        raise HTTPException(400, "X-Thread-Id must be 1-200 characters of letters, digits and . _ : @ -")
    # Only the server decides what `configurable` holds: a client's keys are dropped, not trusted.
    return {**config, "configurable": {"thread_id": thread_id}}


def no_client_config(config: dict, _: Request) -> dict:
    return {**config, "configurable": {}}


def create_app() -> FastAPI:
    settings = get_settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    rag_graph = retrieval_builder.compile(name="rag")
    chat_graph = chat_builder.compile(name="chat")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        get_services()
        jobs = JobQueue(settings)
        if settings.inline_worker:
            jobs.start_inline()
        app.state.jobs = jobs
        app.state.started_at = time.time()
        app.state.queries = Counter()
        app.state.stateless_rag = retrieval_builder.compile(name="rag-stateless")
        app.state.kv = make_store(settings)
        async with open_checkpointer(settings) as saver:
            # The graphs are served by LangServe from start-up; their checkpointer opens with the event loop.
            rag_graph.checkpointer = saver
            chat_graph.checkpointer = saver
            app.state.checkpointer = saver
            yield
        await app.state.kv.close()
        jobs.stop_inline()

    app = FastAPI(
        title="DNA da Força AI — RAG server",
        version="0.1.0",
        description="Ingestion of course materials, retrieval and the retrieval/chat agents.",
        lifespan=lifespan,
    )
    app.add_middleware(ThreadLockMiddleware)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
    )

    @app.exception_handler(EmbeddingModelMismatch)
    async def embedding_mismatch(_: Request, error: EmbeddingModelMismatch) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=409)

    # Threaded calls meet a dead Redis at their lock, before anything runs (ThreadLockMiddleware); a one-off
    # call meets it at its first checkpoint.
    for error_type in UNAVAILABLE:
        app.add_exception_handler(error_type, lambda _, error: memory_unavailable(f"Redis is unreachable: {error}"))

    @app.exception_handler(QueueUnavailable)
    async def queue_unavailable(_: Request, error: QueueUnavailable) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(BackupError)
    async def backup_refused(_: Request, error: BackupError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=409)

    @app.exception_handler(LocalModelUnavailable)
    async def model_unavailable(_: Request, error: LocalModelUnavailable) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=503)

    app.include_router(router)
    protected = [Depends(require_service_token)]
    add_routes(app, rag_graph, path="/rag", per_req_config_modifier=thread_from_header, dependencies=protected)
    add_routes(app, chat_graph, path="/chat", per_req_config_modifier=thread_from_header, dependencies=protected)
    # One question, no memory (the API server's /chat): no checkpointer, nothing left behind.
    add_routes(app, retrieval_builder.compile(name="ask"), path="/ask", per_req_config_modifier=no_client_config,
               dependencies=protected)
    add_routes(
        app,
        playground_runnable(chat_builder.compile(name="chat-playground")),
        path="/chat-playground",
        playground_type="chat",
        dependencies=protected,
    )
    return app


app = create_app()
