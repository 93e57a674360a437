"""Course materials (staff and admins), kept by the RAG server and reached over HTTP: upload, list with
processing state, download, delete (vectors included), processing jobs."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, HTTPException, UploadFile, status
from fastapi.responses import StreamingResponse
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from servers.api.deps import RagDep, SessionDep, SettingsDep, StaffUser, require_staff
from servers.api.models import Upload
from servers.api.rag_client import segment
from servers.api.schemas import JobAccepted, MaterialOut, UploadOut
from servers.uploads import material_names, save_upload

router = APIRouter(prefix="/materials", tags=["materials"], dependencies=[Depends(require_staff)])


def _with_uploader(materials: list[dict], session: Session) -> list[MaterialOut]:
    uploads = {upload.material_id: upload for upload in session.scalars(
        select(Upload).where(Upload.material_id.in_([material["id"] for material in materials])))}
    return [MaterialOut(**material, uploaded_by=getattr(uploads.get(material["id"]), "uploaded_by", None))
            for material in materials]


async def with_uploader(materials: list[dict], session: Session) -> list[MaterialOut]:
    """The RAG server's materials with who uploaded each (read in the thread pool, off the event loop)."""
    return await run_in_threadpool(_with_uploader, materials, session)


def _twin(session: Session, sha256: str, name: str) -> Upload | None:
    """Another material with the same content (a new version of the same name is not a twin)."""
    return session.scalar(select(Upload).where(Upload.sha256 == sha256, Upload.file_name != name))


def _record_uploads(session: Session, materials: list[dict], received: list, user_id: str) -> None:
    by_name = {material["file_name"]: material for material in materials}
    for _, name, sha256, size in received:
        session.merge(Upload(material_id=by_name[name]["id"], file_name=name, sha256=sha256, size=size,
                             uploaded_by=user_id))
    session.commit()


def _forget_upload(session: Session, material_id: str) -> None:
    session.execute(delete(Upload).where(Upload.material_id == material_id))
    session.commit()


@router.get("")
async def list_materials(rag: RagDep, session: SessionDep) -> list[MaterialOut]:
    """Every material with its processing state (pending, indexed, failed, …) and who uploaded it."""
    return await with_uploader(await rag.json("GET", "/materials"), session)


@router.post("", status_code=status.HTTP_201_CREATED)
async def upload_materials(
    files: Annotated[list[UploadFile], File(description="PDF, spreadsheets, Word, CSV, text, subtitles, video")],
    user: StaffUser, rag: RagDep, session: SessionDep, settings: SettingsDep, process: bool = True,
) -> UploadOut:
    """Send files to the RAG server and queue their processing. A file with the content of another material is
    refused (409); one with the name of an existing material replaces it (a new version)."""
    names = material_names(files)
    with tempfile.TemporaryDirectory(prefix="dnaforca-upload-") as folder:
        received = []
        for upload, name in zip(files, names, strict=True):
            path, sha256, size = await save_upload(upload, Path(folder), settings.max_upload_bytes, "MAX_UPLOAD_MB")
            twin = await run_in_threadpool(_twin, session, sha256, name)
            if twin is not None:
                raise HTTPException(status.HTTP_409_CONFLICT,
                                    f"{name} has the same content as material {twin.material_id} ({twin.file_name})")
            received.append((path, name, sha256, size))
        handles = [(path.open("rb"), name) for path, name, _, _ in received]
        try:
            result = await rag.json("POST", "/materials", params={"process": process},
                                    files=[("files", (name, handle)) for handle, name in handles])
        finally:
            for handle, _ in handles:
                handle.close()
    await run_in_threadpool(_record_uploads, session, result["materials"], received, user.id)
    return UploadOut(materials=await with_uploader(result["materials"], session), job_id=result["job_id"])


@router.get("/jobs/{job_id}")
async def get_job(job_id: str, rag: RagDep) -> dict:
    """Progress of a processing job (files and chunks done, per-file errors)."""
    return await rag.json("GET", f"/jobs/{segment(job_id)}")


@router.post("/process", status_code=status.HTTP_202_ACCEPTED)
async def process_materials(rag: RagDep) -> JobAccepted:
    """Index every new or changed material."""
    return JobAccepted(**await rag.json("POST", "/process-materials"))


@router.get("/{material_id}")
async def get_material(material_id: str, rag: RagDep, session: SessionDep) -> MaterialOut:
    return (await with_uploader([await rag.json("GET", f"/materials/{segment(material_id)}")], session))[0]


@router.get("/{material_id}/file", response_class=StreamingResponse,
            responses={200: {"content": {"application/octet-stream": {}}}})
async def download_material(material_id: str, rag: RagDep) -> StreamingResponse:
    return await _relay(rag, f"/materials/{segment(material_id)}/file")


async def _relay(rag, path: str) -> StreamingResponse:
    """A file of the RAG server, streamed through with its name and type."""
    response = await rag.open_stream("GET", path)
    headers = {name: response.headers[name] for name in ("content-disposition", "content-length", "content-type")
               if name in response.headers}
    return StreamingResponse(response.aiter_bytes(), headers=headers, background=BackgroundTask(response.aclose))


@router.get("/{material_id}/transcript", response_class=StreamingResponse,
            responses={200: {"content": {"text/vtt": {}}}})
async def download_transcript(material_id: str, rag: RagDep) -> StreamingResponse:
    """A video's or audio's transcript, with its timestamps (WebVTT or the sidecar subtitles)."""
    return await _relay(rag, f"/materials/{segment(material_id)}/transcript")


@router.delete("/{material_id}")
async def delete_material(material_id: str, rag: RagDep, session: SessionDep) -> dict:
    """Delete the file and its vectors on the RAG server."""
    result = await rag.json("DELETE", f"/materials/{segment(material_id)}")
    await run_in_threadpool(_forget_upload, session, material_id)
    return result
