"""Maintenance: load models now, clear the answer cache, forget a conversation, backup, restore, reset."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile, status
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from core.embeddings import embeddings_name
from knowledge.backup import BACKUP_LIMIT, restore_backup, write_backup
from servers.rag.deps import JobsDep, ServicesDep
from servers.rag.schemas import ResetRequest
from servers.rag.security import ServiceToken
from servers.uploads import save_upload

router = APIRouter(tags=["maintenance"], dependencies=ServiceToken)


@router.post("/initialize")
def initialize(services: ServicesDep, jobs: JobsDep) -> dict:
    """Load the models now rather than on the first question, and index whatever is new in MATERIALS_DIR."""
    services.embeddings.embed_query("aquecimento")
    services.chat_models.get()
    job = jobs.submit(None)
    return {
        "llm_provider": services.llm_provider,
        "embedding_model": embeddings_name(services.embeddings),
        "materials_dir": str(services.settings.materials_path),
        "job_id": job.id,
        "status_url": f"/jobs/{job.id}",
    }


@router.post("/cache/clear")
def clear_cache(services: ServicesDep) -> dict:
    return {"answers_removed": services.cache.clear()}


@router.delete("/threads/{thread_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_thread(thread_id: str, request: Request) -> None:
    """Forget a conversation's memory (its checkpoints)."""
    await request.app.state.checkpointer.adelete_thread(thread_id)


@router.get("/backup", response_class=FileResponse)
def backup(services: ServicesDep) -> FileResponse:
    """One tar.gz with the catalogue, the materials and the vector store."""
    descriptor, name = tempfile.mkstemp(dir=services.settings.data_dir, prefix=".backup-", suffix=".tar.gz")
    os.close(descriptor)
    archive = Path(name)
    try:
        write_backup(services, archive)
    except BaseException:
        archive.unlink(missing_ok=True)
        raise
    return FileResponse(archive, filename="dnaforca-rag-backup.tar.gz", media_type="application/gzip",
                        background=BackgroundTask(archive.unlink, missing_ok=True))


@router.post("/restore")
async def restore(archive: Annotated[UploadFile, File(description="a tar.gz from GET /backup")],
                  services: ServicesDep) -> dict:
    """Replace the catalogue, the materials and the vector store with a backup's."""
    path, _, _ = await save_upload(archive, services.settings.data_dir, BACKUP_LIMIT, "a backup")
    try:
        return await run_in_threadpool(restore_backup, services, path)
    finally:
        path.unlink(missing_ok=True)


@router.post("/reset")
def reset(body: ResetRequest, services: ServicesDep) -> dict:
    chunks = services.index.count()
    services.ingestor.reset()
    deleted_files = 0
    if body.delete_files:
        for path in services.ingestor.scan():
            path.unlink()
            deleted_files += 1
    return {"status": "reset", "chunks_removed": chunks, "files_deleted": deleted_files}
