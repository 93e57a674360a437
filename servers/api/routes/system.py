"""System info, health and status, and the RAG server's set-up actions (initialize, process)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Request, status
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from core.kv import StoreUnavailable
from servers.api import db
from servers.api.deps import KVDep, RagDep, require_admin, require_staff
from servers.api.rag_client import RagError, RagUnavailable
from servers.api.schemas import JobAccepted

router = APIRouter(tags=["system"])


@router.get("/")
def system_info(request: Request) -> dict:
    app = request.app
    return {
        "name": app.title,
        "version": app.version,
        "environment": app.state.settings.environment,
        "docs": "/docs",
        "rag_server": app.state.settings.rag_server_url,
    }


@router.get("/health")
def health() -> dict:
    """Liveness: the process answers (see /status for its dependencies)."""
    return {"status": "ok"}


async def _check(probe) -> str:
    try:
        await probe()
    except (RagUnavailable, RagError, StoreUnavailable, SQLAlchemyError, OSError) as error:
        return f"unreachable: {error}"
    return "ok"


@router.get("/status")
async def service_status(request: Request, rag: RagDep, kv: KVDep) -> dict:
    """Uptime, and whether the RAG server, the key-value store (Redis) and the database answer."""
    engine = request.app.state.engine
    checks = {
        "rag_server": await _check(lambda: rag.request("GET", "/health")),
        "redis" if kv.backend == "redis" else "memory_store": await _check(kv.ping),
        "database": await _check(lambda: run_in_threadpool(db.ping, engine)),
    }
    degraded = [name for name, state in checks.items() if state != "ok"]
    return {
        "status": "degraded" if degraded else "ok",
        "degraded": degraded,
        "uptime_seconds": round(time.time() - request.app.state.started_at, 1),
        "checks": checks,
        "database": engine.dialect.name,
        "kv_store": kv.backend,
    }


@router.post("/initialize-rag", dependencies=[Depends(require_admin)])
async def initialize_rag(rag: RagDep) -> dict:
    """Load the RAG server's models now and index what is new in its materials folder."""
    return await rag.json("POST", "/initialize")


@router.post("/process-materials", status_code=status.HTTP_202_ACCEPTED, dependencies=[Depends(require_staff)])
async def process_materials(rag: RagDep) -> JobAccepted:
    """Index every new or changed material (a job; follow it at /materials/jobs/{job_id})."""
    return JobAccepted(**await rag.json("POST", "/process-materials"))
