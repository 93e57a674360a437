"""Google Drive: where materials are kept by the course staff. Routes and their access rules; the sync
itself (changes.list from a saved page token) is not built yet."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, status

from servers.api.deps import SettingsDep, require_admin, require_staff

router = APIRouter(prefix="/drive", tags=["drive"])


@router.get("/status", dependencies=[Depends(require_staff)])
def drive_status(settings: SettingsDep) -> dict:
    """Whether credentials are in place (GOOGLE_CREDENTIALS_PATH or GOOGLE_DRIVE_API_KEY); no sync runs yet."""
    credentials = settings.drive_credentials_path.is_file() or settings.google_drive_api_key is not None
    return {"credentials": credentials, "configured": False, "last_sync": None,
            "detail": "Google Drive sync is not available in this version; upload materials at /materials"}


@router.post("/sync", dependencies=[Depends(require_admin)])
def drive_sync() -> dict:
    raise HTTPException(status.HTTP_409_CONFLICT,
                        "Google Drive is not configured on this server; upload materials at /materials")
