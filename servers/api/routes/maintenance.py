"""Maintenance (admins): clear caches, reindex everything, backup and restore."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, HTTPException, UploadFile, status
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from core.archives import UnsafeArchive, safe_extract
from servers.api.backup import DATABASE_MEMBER, RAG_MEMBER, load_database, read_dump, write_backup
from servers.api.deps import RagDep, SessionDep, require_admin
from servers.api.schemas import JobAccepted
from servers.uploads import save_upload

RESTORE_LIMIT = 50 * 2**30
# database.json is read into memory and parsed whole.
DATABASE_LIMIT = 2**30
# A backup holds its two members; a few more are unpacked (into the temporary folder) and ignored.
RESTORE_MEMBERS = 16
router = APIRouter(prefix="/maintenance", tags=["maintenance"], dependencies=[Depends(require_admin)])


@router.post("/clear-caches")
async def clear_caches(rag: RagDep) -> dict:
    """Forget every cached answer (they are keyed on the index anyway; this frees the memory now)."""
    return await rag.json("POST", "/cache/clear")


@router.post("/reindex", status_code=status.HTTP_202_ACCEPTED)
async def reindex(rag: RagDep) -> JobAccepted:
    """Embed every material again (a job; follow it at /materials/jobs/{job_id})."""
    return JobAccepted(**await rag.json("POST", "/reindex"))


@router.get("/backup", response_class=FileResponse,
            responses={200: {"content": {"application/gzip": {}}, "description": "a tar.gz archive"}})
async def backup(rag: RagDep, session: SessionDep) -> FileResponse:
    """One archive: the database (`database.json`) and the RAG server's materials, vectors and catalogue
    (`rag.tar.gz`)."""
    folder = Path(tempfile.mkdtemp(prefix="dnaforca-backup-"))
    try:
        archive = await write_backup(rag, session, folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(archive, filename=archive.name, media_type="application/gzip",
                        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))


@router.post("/restore")
async def restore(archive: Annotated[UploadFile, File(description="an archive from GET /maintenance/backup")],
                  rag: RagDep, session: SessionDep) -> dict:
    """Put back the database and the RAG server's state from a backup archive."""
    with tempfile.TemporaryDirectory(prefix="dnaforca-restore-") as folder:
        path, _, _ = await save_upload(archive, Path(folder), RESTORE_LIMIT, "the backup size limit")
        unpacked = Path(folder) / "unpacked"
        database = await run_in_threadpool(_unpack_backup, path, unpacked)
        try:  # the dump is checked before the RAG server replaces anything
            rows = await run_in_threadpool(read_dump, database)
        except ValueError as error:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from None
        with (unpacked / RAG_MEMBER).open("rb") as handle:
            rag_result = await rag.json("POST", "/restore", files={"archive": (RAG_MEMBER, handle)})
    tables = await run_in_threadpool(load_database, session, rows)
    return {"database": tables, "rag": rag_result}


def _unpack_backup(archive: Path, folder: Path) -> bytes:
    """Unpack an uploaded backup into `folder` (links, devices, names leading out and oversized contents
    refused); returns database.json's bytes. 400 if it is not a sound backup archive."""
    try:
        safe_extract(archive, folder, max_members=RESTORE_MEMBERS, max_bytes=RESTORE_LIMIT)
    except UnsafeArchive as error:
        raise _not_a_backup(str(error)) from None
    missing = [name for name in (DATABASE_MEMBER, RAG_MEMBER) if not (folder / name).is_file()]
    if missing:
        raise _not_a_backup(f"it lacks {', '.join(missing)}")
    database = folder / DATABASE_MEMBER
    if database.stat().st_size > DATABASE_LIMIT:
        raise HTTPException(status.HTTP_400_BAD_REQUEST,
                            f"{DATABASE_MEMBER} is over the {DATABASE_LIMIT // 2**20} MB a restore reads")
    return database.read_bytes()


def _not_a_backup(reason: str) -> HTTPException:
    return HTTPException(status.HTTP_400_BAD_REQUEST,
                         f"Not a backup archive (needs {DATABASE_MEMBER} and {RAG_MEMBER}): {reason}")
