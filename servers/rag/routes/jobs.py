"""Ingestion jobs: process new or changed materials, rebuild the index, follow a job's progress."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, HTTPException, status

from knowledge.catalog import Job
from servers.rag.deps import JobsDep, ServicesDep
from servers.rag.schemas import JobAccepted, JobOut, ProcessRequest
from servers.rag.security import ServiceToken

router = APIRouter(tags=["jobs"], dependencies=ServiceToken)


def job_out(job: Job) -> JobOut:
    return JobOut(**{**asdict(job), "errors": job.errors})


def accepted(job: Job) -> JobAccepted:
    return JobAccepted(job_id=job.id, state=job.state, status_url=f"/jobs/{job.id}")


@router.post("/process-materials", status_code=status.HTTP_202_ACCEPTED)
def process_materials(services: ServicesDep, jobs: JobsDep, body: ProcessRequest | None = None) -> JobAccepted:
    """Index the given files of MATERIALS_DIR, or every new or changed one (and forget deleted ones)."""
    files = body.files if body else None
    if files:
        root = services.settings.materials_path.resolve()
        missing = [name for name in files if not (root / name).resolve().is_relative_to(root)
                   or not (root / name).is_file()]
        if missing:
            raise HTTPException(404, f"Not found in MATERIALS_DIR: {', '.join(missing)}")
    return accepted(jobs.submit(files or None))


@router.post("/reindex", status_code=status.HTTP_202_ACCEPTED)
def reindex(jobs: JobsDep) -> JobAccepted:
    """Empty the index and embed every material again (after changing the embedding model or chunking)."""
    return accepted(jobs.submit(None, reindex=True))


@router.get("/jobs/{job_id}")
def get_job(job_id: str, services: ServicesDep) -> JobOut:
    job = services.catalog.job(job_id)
    if job is None:
        raise HTTPException(404, f"No job {job_id}")
    return job_out(job)
