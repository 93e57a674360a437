"""Google Drive: the course folders kept in step with the knowledge base (servers/api/drive). Staff read the
status and browse folders; admins choose the watched folders and start a sync."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi import Path as FastAPIPath
from pydantic import BaseModel, Field
from sqlalchemy import delete, func, select

from core.settings import Settings
from servers.api.deps import AdminUser, SessionDep, SettingsDep, require_admin, require_staff
from servers.api.drive.client import (
    DRIVE_ID,
    FOLDER,
    SHORTCUT,
    DriveApiError,
    DriveClient,
    check_id,
    material_name,
)
from servers.api.drive.credentials import CredentialsError, DriveNotConfigured, credentials_kind, load_credentials
from servers.api.drive.queue import DriveQueue
from servers.api.models import DriveFile, DriveFolder

router = APIRouter(prefix="/drive", tags=["drive"])
FOLDER_LINK = re.compile(r"/folders/([A-Za-z0-9_-]+)|[?&]id=([A-Za-z0-9_-]+)")


async def get_drive_queue(request: Request) -> DriveQueue:
    return request.app.state.drive


DriveQueueDep = Annotated[DriveQueue, Depends(get_drive_queue)]


class FolderIn(BaseModel):
    folder: str = Field(min_length=1, max_length=500, description="the folder's id or its Drive link")


class FolderOut(BaseModel):
    id: str
    name: str
    drive_id: str | None
    added_by: str | None
    added_at: datetime
    files: int = Field(0, description="files of it in the knowledge base")


def _drive(settings: Settings) -> DriveClient:
    try:
        return DriveClient.from_settings(settings, load_credentials(settings))
    except DriveNotConfigured as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    except CredentialsError as error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"Drive credentials unusable: {error}") from None


def _google_error(error: DriveApiError | CredentialsError) -> HTTPException:
    if isinstance(error, DriveApiError) and error.not_found:
        return HTTPException(status.HTTP_404_NOT_FOUND, str(error))
    return HTTPException(status.HTTP_502_BAD_GATEWAY, f"Google Drive: {error}")


def _folder_id(value: str) -> str:
    match = FOLDER_LINK.search(value)
    candidate = next(group for group in match.groups() if group) if match else value.strip()
    try:
        return check_id(candidate)
    except ValueError as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from None


def _iso(moment: float | None) -> str | None:
    return datetime.fromtimestamp(moment, UTC).isoformat() if moment else None


@router.get("/status", dependencies=[Depends(require_staff)])
def drive_status(settings: SettingsDep, queue: DriveQueueDep, session: SessionDep) -> dict:
    """Credentials, watched folders, the last sync (counts, per-file errors, progress) and the next scheduled one."""
    try:
        kind, credentials_error = credentials_kind(settings), None
    except CredentialsError as error:
        kind, credentials_error = None, str(error)
    last = queue.last_run()
    failed = session.scalars(select(DriveFile).where(DriveFile.error.is_not(None)).order_by(DriveFile.name)).all()
    return {
        "configured": kind is not None,
        "credentials": kind,
        "credentials_error": credentials_error,
        "folders": session.scalar(select(func.count()).select_from(DriveFolder)),
        "files": session.scalar(select(func.count()).select_from(DriveFile).where(DriveFile.error.is_(None))),
        "file_errors": [{"file_id": file.id, "name": file.name, "error": file.error} for file in failed],
        "running": queue.is_running(last),
        "last_sync": last and {**last, "started_at": _iso(last["started_at"]), "finished_at": _iso(last["finished_at"]),
                               "beat_at": _iso(last["beat_at"])},
        "interval_minutes": settings.drive_sync_interval_minutes,
        "next_run": _iso(queue.next_run()) if kind else None,
    }


def _folders_out(session) -> list[FolderOut]:
    counts = dict(session.execute(select(DriveFile.folder_id, func.count()).where(DriveFile.error.is_(None))
                                  .group_by(DriveFile.folder_id)).all())
    return [FolderOut(id=folder.id, name=folder.name, drive_id=folder.drive_id, added_by=folder.added_by,
                      added_at=folder.added_at, files=counts.get(folder.id, 0))
            for folder in session.scalars(select(DriveFolder).order_by(DriveFolder.added_at))]


@router.get("/folders", dependencies=[Depends(require_staff)])
def list_folders(session: SessionDep) -> list[FolderOut]:
    return _folders_out(session)


@router.post("/folders", status_code=status.HTTP_201_CREATED)
def add_folder(body: FolderIn, user: AdminUser, settings: SettingsDep, queue: DriveQueueDep,
               session: SessionDep) -> FolderOut:
    """Watch a folder (of My Drive, shared with the sync's account, or in a shared drive) with its subfolders; its
    first sync is queued."""
    folder_id = _folder_id(body.folder)
    try:
        folder = _drive(settings).file(folder_id)
    except (DriveApiError, CredentialsError) as error:
        raise _google_error(error) from None
    if folder["mimeType"] != FOLDER:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"{folder['name']} is not a folder")
    if session.get(DriveFolder, folder_id) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"{folder['name']} is already watched")
    session.add(DriveFolder(id=folder_id, name=folder["name"], drive_id=folder.get("driveId"), added_by=user.id))
    session.commit()
    queue.store.save_page_token(folder.get("driveId"), None)  # a crawl takes in the new folder
    queue.request("folder added")
    return next(out for out in _folders_out(session) if out.id == folder_id)


@router.delete("/folders/{folder_id}", dependencies=[Depends(require_admin)])
def remove_folder(folder_id: str, queue: DriveQueueDep, session: SessionDep) -> dict:
    """Stop watching a folder; its files leave the knowledge base at the sync this queues."""
    if session.execute(delete(DriveFolder).where(DriveFolder.id == folder_id)).rowcount == 0:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Folder {folder_id} is not watched")
    session.commit()
    queue.request("folder removed")
    return {"removed": folder_id, "sync_queued": True}


@router.get("/folders/{folder_id}/files", dependencies=[Depends(require_staff)])
def browse_folder(folder_id: Annotated[str, FastAPIPath(pattern=DRIVE_ID.pattern)], settings: SettingsDep,
                  session: SessionDep) -> list[dict]:
    """What a folder holds, live from Drive, with each file's state in the knowledge base."""
    try:
        children = list(_drive(settings).children(folder_id))
    except (DriveApiError, CredentialsError) as error:
        raise _google_error(error) from None
    synced = {file.id: file for file in session.scalars(
        select(DriveFile).where(DriveFile.id.in_([child["id"] for child in children])))}
    listing = []
    for child in sorted(children, key=lambda child: (child["mimeType"] != FOLDER, child["name"].lower())):
        kind = {FOLDER: "folder", SHORTCUT: "shortcut"}.get(child["mimeType"], "file")
        known = synced.get(child["id"])
        listing.append({
            "id": child["id"], "name": child["name"], "kind": kind, "mime_type": child["mimeType"],
            "size": int(child["size"]) if child.get("size") else None, "modified_time": child.get("modifiedTime"),
            "web_link": child.get("webViewLink"),
            "supported": kind != "file" or material_name(child) is not None,
            "material_id": known.material_id if known else None, "error": known.error if known else None,
        })
    return listing


@router.post("/sync", status_code=status.HTTP_202_ACCEPTED, dependencies=[Depends(require_admin)])
def drive_sync(settings: SettingsDep, queue: DriveQueueDep, session: SessionDep, full: bool = False) -> dict:
    """Queue a sync now (`full`: crawl every folder again instead of reading the changes). Progress and results:
    GET /drive/status."""
    try:
        if credentials_kind(settings) is None:
            raise HTTPException(status.HTTP_409_CONFLICT, "Google Drive is not configured: set "
                                "GOOGLE_CREDENTIALS_PATH (or DATA_DIR/credentials.json) or GOOGLE_DRIVE_API_KEY")
    except CredentialsError as error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"Drive credentials unusable: {error}") from None
    if full:
        for drive_id in {folder.drive_id for folder in session.scalars(select(DriveFolder))}:
            queue.store.save_page_token(drive_id, None)
    queue.request("manual")
    return {"queued": True, "running": queue.is_running(queue.last_run()), "status_url": "/drive/status"}
