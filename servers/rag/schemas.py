"""Request and response bodies of the RAG server (the API server reuses some: keep this module light)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Source(BaseModel):
    material_id: str
    source: str
    page: int | None = None
    location: str = ""
    url: str | None = Field(None, description="the material's web page (its Google Drive file), when it has one")
    text: str
    score: float


class QueryResponse(BaseModel):
    answer: str
    sources: list[Source]
    question: str
    standalone_question: str
    llm_provider: str
    cached: bool = Field(description="served from the query cache (same question on the same index)")
    took_ms: float


class ProcessRequest(BaseModel):
    files: list[str] | None = Field(
        None, description="paths inside MATERIALS_DIR; empty means every new or changed material"
    )


class JobAccepted(BaseModel):
    job_id: str
    state: str
    status_url: str


class FileResultOut(BaseModel):
    material_id: str
    file_name: str
    status: str
    chunks: int = 0
    added: int = 0
    removed: int = 0
    error: str | None = None


class JobOut(BaseModel):
    id: str
    state: Literal["queued", "running", "completed", "failed"]
    created_at: float
    started_at: float | None
    finished_at: float | None
    files_total: int
    files_done: int
    chunks_total: int
    chunks_done: int
    current_file: str | None
    attempts: int = Field(description="runs started; more than one means a worker died and the job was retried")
    heartbeat_at: float | None = Field(description="the running worker's last sign of life")
    results: list[FileResultOut]
    errors: list[FileResultOut]
    error: str | None


class MaterialOut(BaseModel):
    id: str
    path: str
    file_name: str
    size: int
    sha256: str | None
    status: str
    error: str | None
    chunks: int
    updated_at: float | None
    drive_id: str | None = Field(None, description="the Google Drive file it is kept in step with")
    url: str | None = Field(None, description="the Drive file's web page")


class UploadOut(BaseModel):
    materials: list[MaterialOut]
    job_id: str | None


class ResetRequest(BaseModel):
    confirm: Literal["RESET"] = Field(..., description='must be the word "RESET"')
    delete_files: bool = False


class DeleteOut(BaseModel):
    material_id: str
    file_name: str
    vectors_removed: int
