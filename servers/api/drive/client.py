"""Drive v3 through google-api-python-client: the calls the sync makes, with the library's own retries
(exponential backoff with jitter on 429, 403 rate limits and 5xx) and Google's errors turned into clear ones."""

from __future__ import annotations

import mimetypes
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO

import google_auth_httplib2
import httplib2
from google.auth.credentials import Credentials
from google.auth.exceptions import RefreshError
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaIoBaseDownload

from core.settings import Settings
from loaders.extensions import SUPPORTED_EXTENSIONS
from servers.api.drive.credentials import CredentialsError

FOLDER = "application/vnd.google-apps.folder"
SHORTCUT = "application/vnd.google-apps.shortcut"
# Google's own types have no bytes of their own: each is exported to a format the knowledge base reads.
# Sheets go to XLSX (CSV would keep only the first sheet); Slides to PDF, which keeps one page per slide.
EXPORTS = {
    "application/vnd.google-apps.document": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx"),
    "application/vnd.google-apps.spreadsheet": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"),
    "application/vnd.google-apps.presentation": ("application/pdf", ".pdf"),
}
FILE_FIELDS = ("id,name,mimeType,md5Checksum,version,modifiedTime,size,parents,trashed,webViewLink,driveId,"
               "shortcutDetails")
DRIVE_ID = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
DOWNLOAD_CHUNK = 8 * 2**20
IN_MEMORY = 8 * 2**20  # larger downloads spill to a temporary file


class DriveApiError(RuntimeError):
    """Google answered with an error (after the retries): its status, its reason and a sentence for people."""

    def __init__(self, message: str, status: int, reason: str = ""):
        super().__init__(message)
        self.status, self.reason = status, reason

    @property
    def not_found(self) -> bool:
        return self.status == 404


def _reason(error: HttpError) -> str:
    details = error.error_details if isinstance(error.error_details, list) else []
    return next((str(detail.get("reason")) for detail in details if isinstance(detail, dict) and detail.get("reason")),
                "")


def _api_error(error: HttpError, what: str) -> DriveApiError:
    status, reason = error.status_code, _reason(error)
    if reason == "exportSizeLimitExceeded":
        message = (f"{what}: too large for Google to export (its export limit is 10 MB); split the document, or "
                   "save a PDF or Office copy of it in the folder")
    elif status == 401:
        message = f"{what}: Google refused the credentials (revoked or expired)"
    elif reason in ("rateLimitExceeded", "userRateLimitExceeded") or status == 429:
        message = f"{what}: Google's rate limit was still exceeded after retrying; the next sync tries again"
    elif reason in ("dailyLimitExceeded", "quotaExceeded"):
        message = f"{what}: the Drive API quota of the Google Cloud project is used up"
    elif status == 403:
        message = f"{what}: no permission ({reason or error.reason}); share it with the sync's account"
    elif status == 404:
        message = f"{what}: not found, or not shared with the sync's account"
    else:
        message = f"{what}: Google answered {status} ({error.reason})"
    return DriveApiError(message, status, reason)


@dataclass(frozen=True)
class ChangePage:
    changes: list[dict]
    next_page_token: str | None
    new_start_page_token: str | None


def material_name(file: dict) -> str | None:
    """The name the file has in the knowledge base (Google types get their export's extension), or None when the
    knowledge base cannot read it (a form, an image, an archive…)."""
    name, mime = file["name"], file["mimeType"]
    if mime in EXPORTS:
        suffix = EXPORTS[mime][1]
        return name if name.lower().endswith(suffix) else f"{name}{suffix}"
    if mime.startswith("application/vnd.google-apps."):
        return None
    if PurePosixPath(name).suffix.lower() in SUPPORTED_EXTENSIONS:
        return name
    guessed = mimetypes.guess_extension(mime) or ""
    return f"{name}{guessed}" if guessed in SUPPORTED_EXTENSIONS else None


def revision(file: dict) -> str:
    """What changes when the content does: the MD5 of a binary file, the version of a Google type."""
    return file.get("md5Checksum") or f"v{file.get('version') or file.get('modifiedTime')}"


def check_id(value: str) -> str:
    if not DRIVE_ID.fullmatch(value):
        raise ValueError(f"Not a Google Drive id: {value!r}")
    return value


class DriveClient:
    def __init__(self, service, retries: int, follows_changes: bool = True):
        self.service, self.retries = service, retries
        # changes.list needs an account: with an API key alone every sync crawls the (public) folders.
        self.follows_changes = follows_changes

    @classmethod
    def from_settings(cls, settings: Settings, credentials: Credentials | None) -> DriveClient:
        http = httplib2.Http(timeout=60)
        if credentials is not None:
            http = google_auth_httplib2.AuthorizedHttp(credentials, http=http)
        api_key = settings.google_drive_api_key.get_secret_value() if settings.google_drive_api_key else None
        options = {"api_endpoint": settings.google_api_endpoint} if settings.google_api_endpoint else None
        service = build("drive", "v3", http=http, developerKey=api_key if credentials is None else None,
                        client_options=options, cache_discovery=False, static_discovery=True)
        return cls(service, settings.drive_retries, follows_changes=credentials is not None)

    def _run(self, request, what: str) -> dict:
        try:
            return request.execute(num_retries=self.retries)
        except HttpError as error:
            raise _api_error(error, what) from None
        except RefreshError as error:
            raise CredentialsError(f"The Drive credentials were refused ({error}); for an OAuth client run "
                                   "`dnaforca drive-auth` again") from None

    def file(self, file_id: str) -> dict:
        return self._run(self.service.files().get(fileId=check_id(file_id), fields=FILE_FIELDS,
                                                  supportsAllDrives=True), f"file {file_id}")

    def children(self, folder_id: str, drive_id: str | None = None) -> Iterator[dict]:
        """Everything directly inside a folder (not in the trash), page by page."""
        scope = {"corpora": "drive", "driveId": drive_id} if drive_id else {}
        token = None
        while True:
            page = self._run(self.service.files().list(
                q=f"'{check_id(folder_id)}' in parents and trashed = false", pageSize=1000, pageToken=token,
                fields=f"nextPageToken,files({FILE_FIELDS})", supportsAllDrives=True, includeItemsFromAllDrives=True,
                **scope), f"folder {folder_id}")
            yield from page.get("files", [])
            token = page.get("nextPageToken")
            if not token:
                return

    def start_page_token(self, drive_id: str | None = None) -> str:
        return self._run(self.service.changes().getStartPageToken(supportsAllDrives=True, driveId=drive_id),
                         "changes")["startPageToken"]

    def changes(self, page_token: str, drive_id: str | None = None) -> ChangePage:
        page = self._run(self.service.changes().list(
            pageToken=page_token, pageSize=1000, includeRemoved=True, spaces="drive", supportsAllDrives=True,
            includeItemsFromAllDrives=True, driveId=drive_id,
            fields=f"nextPageToken,newStartPageToken,changes(changeType,removed,fileId,file({FILE_FIELDS}))"),
            "changes")
        return ChangePage(page.get("changes", []), page.get("nextPageToken"), page.get("newStartPageToken"))

    def content(self, file: dict, limit: int) -> IO[bytes]:
        """The file's bytes (exported for Google types) in a temporary file, rewound; over `limit` is an error."""
        what = f"{file['name']} ({file['id']})"
        if int(file.get("size") or 0) > limit:
            raise DriveApiError(f"{what}: over the {limit // 2**20} MB limit (MAX_UPLOAD_MB)", 413, "tooLarge")
        if file["mimeType"] in EXPORTS:
            request = self.service.files().export_media(fileId=file["id"], mimeType=EXPORTS[file["mimeType"]][0])
        else:
            request = self.service.files().get_media(fileId=file["id"], supportsAllDrives=True)
        buffer = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY)  # noqa: SIM115 (handed to the caller)
        try:
            downloader, done = MediaIoBaseDownload(buffer, request, chunksize=DOWNLOAD_CHUNK), False
            while not done:
                _, done = downloader.next_chunk(num_retries=self.retries)
                if buffer.tell() > limit:
                    raise DriveApiError(f"{what}: over the {limit // 2**20} MB limit (MAX_UPLOAD_MB)", 413, "tooLarge")
        except HttpError as error:
            buffer.close()
            raise _api_error(error, what) from None
        except BaseException:
            buffer.close()
            raise
        buffer.seek(0)
        return buffer
