"""Maintenance (admins): clear caches, reindex everything, backup and restore."""

from __future__ import annotations

from fastapi import APIRouter, Depends, status

from servers.api.deps import RagDep, require_admin
from servers.api.schemas import JobAccepted

router = APIRouter(prefix="/maintenance", tags=["maintenance"], dependencies=[Depends(require_admin)])


@router.post("/clear-caches")
async def clear_caches(rag: RagDep) -> dict:
    """Forget every cached answer (they are keyed on the index anyway; this frees the memory now)."""
    return await rag.json("POST", "/cache/clear")


@router.post("/reindex", status_code=status.HTTP_202_ACCEPTED)
async def reindex(rag: RagDep) -> JobAccepted:
    """Embed every material again (a job; follow it at /materials/jobs/{job_id})."""
    return JobAccepted(**await rag.json("POST", "/reindex"))
