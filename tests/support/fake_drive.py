"""A small Drive v3 server for tests (loopback only): the endpoints the sync uses, over an in-memory tree that a
test changes as a person would in Drive (add, edit, rename, move, copy, trash, delete, unshare). Every change
goes to a change log read through changes.getStartPageToken / changes.list, two changes per page so paging is
exercised. `fail_next` makes the next requests answer an error status (rate limits, 5xx); `revoke()` makes every
token invalid. Also answers OAuth token requests (/token), for service-account and OAuth-client credentials."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
import uuid
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.support.processes import free_port

FOLDER = "application/vnd.google-apps.folder"
SHORTCUT = "application/vnd.google-apps.shortcut"
DOC = "application/vnd.google-apps.document"
SHEET = "application/vnd.google-apps.spreadsheet"
SLIDES = "application/vnd.google-apps.presentation"
GOOGLE_EXPORT_LIMIT = 10 * 2**20
PAGE = 2


@dataclass
class Item:
    id: str
    name: str
    mime_type: str
    parents: list[str]
    content: bytes = b""
    exports: dict[str, bytes] = field(default_factory=dict)  # Google types: export MIME type → bytes
    export_size: int = 0  # Google types: how big Google says the export would be
    version: int = 1
    modified_time: str = "2026-01-01T00:00:00.000Z"
    trashed: bool = False
    shared: bool = True  # False: the sync's account lost access
    target_id: str | None = None  # shortcuts
    drive_id: str | None = None

    def resource(self, drive: FakeDrive) -> dict:
        body = {"id": self.id, "name": self.name, "mimeType": self.mime_type, "parents": self.parents,
                "trashed": self.trashed, "version": str(self.version), "modifiedTime": self.modified_time,
                "webViewLink": f"https://drive.google.com/file/d/{self.id}/view"}
        if self.drive_id:
            body["driveId"] = self.drive_id
        if not self.mime_type.startswith("application/vnd.google-apps."):
            body["md5Checksum"], body["size"] = hashlib.md5(self.content).hexdigest(), str(len(self.content))
        if self.target_id:
            target = drive.items[self.target_id]
            body["shortcutDetails"] = {"targetId": target.id, "targetMimeType": target.mime_type}
        return body


class FakeDrive:
    def __init__(self):
        self.items: dict[str, Item] = {}
        self.log: list[tuple[str, bool]] = []  # (file id, removed)
        self.failures: deque[int] = deque()
        self.requests: list[str] = []
        self.revoked = False
        self.download_seconds = 0.0  # how long each download takes
        self.access_token = "fake-access-token"
        self.lock = threading.Lock()
        self.url = ""

    # What people do in Drive.
    def add(self, name: str, parent: str | None, mime_type: str = "application/pdf", content: bytes = b"",
            **extra) -> Item:
        item = Item(id=extra.pop("id", None) or uuid.uuid4().hex[:20], name=name, mime_type=mime_type,
                    parents=[parent] if parent else [], content=content, **extra)
        with self.lock:
            self.items[item.id] = item
            self.log.append((item.id, False))
        return item

    def change(self, item: Item, **values) -> None:
        with self.lock:
            for key, value in values.items():
                setattr(item, key, value)
            item.version += 1
            self.log.append((item.id, False))

    def delete(self, item: Item) -> None:
        with self.lock:
            del self.items[item.id]
            self.log.append((item.id, True))

    def fail_next(self, *statuses: int) -> None:
        self.failures.extend(statuses)

    def revoke(self) -> None:
        self.revoked = True

    # The API.
    def visible(self, item_id: str) -> Item | None:
        item = self.items.get(item_id)
        return item if item is not None and item.shared else None


def _error(status: int, reason: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": status, "message": message,
                                   "errors": [{"reason": reason, "message": message, "domain": "global"}]}}, status)


def create_app(drive: FakeDrive) -> FastAPI:
    app = FastAPI()

    @app.middleware("http")
    async def gate(request: Request, call_next):
        drive.requests.append(f"{request.method} {request.url.path}?{request.url.query}")
        if request.url.path == "/token":
            return await call_next(request)
        if drive.failures:
            status = drive.failures.popleft()
            reason = "rateLimitExceeded" if status in (403, 429) else "backendError"
            return _error(status, reason, f"injected {status}")
        authorization = request.headers.get("authorization", "")
        if drive.revoked or (authorization != f"Bearer {drive.access_token}" and "key=" not in request.url.query):
            return _error(401, "authError", "Invalid Credentials")
        return await call_next(request)

    @app.post("/token")
    async def token(request: Request):
        form = await request.form()
        if drive.revoked:
            return JSONResponse({"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
                                400)
        if form.get("grant_type") not in ("refresh_token", "authorization_code",
                                          "urn:ietf:params:oauth:grant-type:jwt-bearer"):
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        body = {"access_token": drive.access_token, "expires_in": 3600, "token_type": "Bearer",
                "scope": "https://www.googleapis.com/auth/drive.readonly"}
        if form.get("grant_type") == "authorization_code":
            body["refresh_token"] = "fake-refresh-token"
        return JSONResponse(body)

    @app.get("/drive/v3/files")
    async def list_files(q: str, pageToken: str | None = None):
        parent = q.split("'")[1]
        with drive.lock:
            children = [item.resource(drive) for item in drive.items.values()
                        if parent in item.parents and not item.trashed and item.shared]
        start = int(pageToken or 0)
        body = {"files": children[start:start + PAGE]}
        if start + PAGE < len(children):
            body["nextPageToken"] = str(start + PAGE)
        return body

    @app.get("/drive/v3/files/{file_id}")
    async def get_file(file_id: str, alt: str | None = None):
        item = drive.visible(file_id)
        if item is None:
            return _error(404, "notFound", f"File not found: {file_id}.")
        if alt == "media":
            await asyncio.sleep(drive.download_seconds)
            return Response(item.content, media_type="application/octet-stream")
        return item.resource(drive)

    @app.get("/drive/v3/files/{file_id}/export")
    async def export(file_id: str, mimeType: str):
        item = drive.visible(file_id)
        if item is None:
            return _error(404, "notFound", f"File not found: {file_id}.")
        if item.export_size > GOOGLE_EXPORT_LIMIT:
            return _error(403, "exportSizeLimitExceeded", "This file is too large to be exported.")
        if mimeType not in item.exports:
            return _error(400, "badRequest", f"Export to {mimeType} is not supported")
        return Response(item.exports[mimeType], media_type=mimeType)

    @app.get("/drive/v3/changes/startPageToken")
    async def start_page_token():
        return {"kind": "drive#startPageToken", "startPageToken": str(len(drive.log))}

    @app.get("/drive/v3/changes")
    async def changes(pageToken: str):
        with drive.lock:
            start = int(pageToken)
            entries = drive.log[start:start + PAGE]
            listed = []
            for file_id, removed in entries:
                item = drive.visible(file_id)
                if removed or item is None:
                    listed.append({"changeType": "file", "fileId": file_id, "removed": True})
                else:
                    listed.append({"changeType": "file", "fileId": file_id, "removed": False,
                                   "file": item.resource(drive)})
            body = {"changes": listed}
            if start + PAGE < len(drive.log):
                body["nextPageToken"] = str(start + PAGE)
            else:
                body["newStartPageToken"] = str(len(drive.log))
        return body

    return app


@contextmanager
def fake_drive_server():
    """A FakeDrive served on a free loopback port; yields it with `.url` set (the Drive v3 base is url/drive/v3/)."""
    drive = FakeDrive()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(drive), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the fake Drive server did not start"
        time.sleep(0.02)
    drive.url = f"http://127.0.0.1:{port}"
    try:
        yield drive
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def service_account_file(path, drive: FakeDrive) -> None:
    """A service account key (a fresh RSA key) whose token endpoint is the fake server."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    path.write_text(json.dumps({
        "type": "service_account", "project_id": "dna-forca-tests", "private_key_id": "k1", "private_key": pem,
        "client_email": "sync@dna-forca-tests.iam.gserviceaccount.com", "client_id": "1",
        "token_uri": f"{drive.url}/token",
    }))


def oauth_client_file(path, drive: FakeDrive) -> None:
    path.write_text(json.dumps({"installed": {
        "client_id": "client.apps.googleusercontent.com", "client_secret": "not-a-secret",
        "auth_uri": f"{drive.url}/auth", "token_uri": f"{drive.url}/token",
        "redirect_uris": ["http://localhost"],
    }}))
