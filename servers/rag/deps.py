"""What the RAG server's routes depend on: the process's services and job queue, created in the lifespan."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from knowledge.jobs import JobQueue
from knowledge.services import Services


# Async although they do not await: FastAPI runs a sync dependency in a worker thread.
async def get_services_dep(request: Request) -> Services:
    return request.app.state.services


async def get_jobs(request: Request) -> JobQueue:
    return request.app.state.jobs


ServicesDep = Annotated[Services, Depends(get_services_dep)]
JobsDep = Annotated[JobQueue, Depends(get_jobs)]
