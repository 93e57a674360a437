"""System info, health and status, and the RAG server's set-up actions (initialize, process).

Everyone sees the name, version and status; only admins see internals (environment, where the RAG server
is, what failed and how)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Request, status
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from core.kv import StoreUnavailable
from servers.api import db
from servers.api.deps import AdminViewer, KVDep, RagDep, require_admin, require_staff
from servers.api.rag_client import RagError, RagUnavailable
from servers.api.schemas import JobAccepted

router = APIRouter(tags=["system"])


def _public(request: Request, state: str) -> dict:
    return {"name": request.app.title, "version": request.app.version, "status": state}


@router.get("/")
def system_info(request: Request, admin: AdminViewer) -> dict:
    info = _public(request, "ok")
    if admin:
        settings = request.app.state.settings
        info.update(environment=settings.environment, docs="/docs", rag_server=settings.rag_server_url)
    return info


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
async def service_status(request: Request, rag: RagDep, kv: KVDep, admin: AdminViewer) -> dict:
    """Whether the RAG server, the key-value store (Redis) and the database answer; admins also see which
    failed and why, the uptime and the backends."""
    engine = request.app.state.engine
    checks = {
        "rag_server": await _check(lambda: rag.request("GET", "/health")),
        "redis" if kv.backend == "redis" else "memory_store": await _check(kv.ping),
        "database": await _check(lambda: run_in_threadpool(db.ping, engine)),
    }
    degraded = [name for name, state in checks.items() if state != "ok"]
    if not admin:
        return _public(request, "degraded" if degraded else "ok")
    return {
        **_public(request, "degraded" if degraded else "ok"),
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
