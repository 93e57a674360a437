"""One sync of the watched Drive folders into the knowledge base.

The first sync of a change log (the user's, or a shared drive's) crawls the folders with files.list
(subfolders and shortcuts followed) and reconciles: new and changed files are sent, known files no longer
there are removed. It notes the start page token taken before the crawl; later syncs read changes.list from
it, keep a change when the file lies under a watched folder (walking its parents, since changes.list has no
folder filter), remove known files that were trashed, deleted, unshared or moved out, and crawl again when a
folder of the tree itself changed. Files are compared by id and md5/version, never by modifiedTime, so a
file copied in with an old date is still picked up.

Safe to interrupt: a file is recorded as synced only after the RAG server has it and its indexing job ended,
and a page token is saved only after its changes were applied. A killed sync is redone from the last saved
token; the RAG server stores a Drive file under its id, so sending it again replaces rather than duplicates.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import IO

import httpx

from core.settings import Settings
from servers.api.drive.client import FOLDER, SHORTCUT, DriveApiError, DriveClient, material_name, revision
from servers.api.drive.store import LAST_RUN, DriveStore
from servers.api.models import DriveFile, DriveFolder
from servers.api.rag_client import error_detail

log = logging.getLogger(__name__)

BATCH = 20  # files sent before their indexing job is started and waited for
MAX_DEPTH = 64  # folder nesting followed when looking for a watched ancestor
JOB_POLL_SECONDS = 0.5
MAX_REPORTED_ERRORS = 100


class KnowledgeBaseUnavailable(RuntimeError):
    """The RAG server cannot be reached or failed: the sync stops here and resumes next time."""


class KnowledgeBaseRefused(RuntimeError):
    """The RAG server refused this file (same content as another material, unreadable type, too large…)."""


class KnowledgeBase:
    """The RAG server's materials API, called from the sync's thread."""

    def __init__(self, settings: Settings, transport: httpx.BaseTransport | None = None):
        self.http = httpx.Client(base_url=settings.rag_server_url.rstrip("/"), timeout=httpx.Timeout(
            settings.rag_timeout_seconds, connect=5.0), headers={"Authorization": f"Bearer {settings.service_token()}"},
            transport=transport)
        self.job_timeout = settings.rag_timeout_seconds * 10

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as error:
            raise KnowledgeBaseUnavailable(f"The RAG server is unreachable: {type(error).__name__}: {error}") from None
        if response.status_code >= 500:
            raise KnowledgeBaseUnavailable(f"The RAG server failed ({response.status_code}): {response.text[:300]}")
        return response

    def put(self, file_id: str, name: str, content: IO[bytes], url: str | None) -> dict:
        """Store the file's current version (not indexed yet); the material as the RAG server lists it."""
        response = self._call("PUT", f"/materials/drive/{file_id}", params={"process": "false"},
                              files={"file": (name, content)}, data={"url": url} if url else {})
        if response.status_code >= 400:
            raise KnowledgeBaseRefused(error_detail(response))
        return response.json()["materials"][0]

    def index(self, paths: list[str]) -> dict[str, str | None]:
        """Index these materials and wait for the job: material id → error (None when indexed)."""
        response = self._call("POST", "/process-materials", json={"files": paths})
        if response.status_code >= 400:
            raise KnowledgeBaseUnavailable(f"The RAG server refused to index: {error_detail(response)}")
        job_id, deadline = response.json()["job_id"], time.monotonic() + self.job_timeout
        while time.monotonic() < deadline:
            job = self._call("GET", f"/jobs/{job_id}").json()
            if job["state"] in ("completed", "failed"):
                if job["state"] == "failed":
                    raise KnowledgeBaseUnavailable(f"The indexing job {job_id} failed: {job.get('error')}")
                return {result["material_id"]: result.get("error") for result in job.get("results", [])}
            time.sleep(JOB_POLL_SECONDS)
        raise KnowledgeBaseUnavailable(f"The indexing job {job_id} did not end in {self.job_timeout:.0f} s")

    def delete(self, material_id: str) -> None:
        """Remove the material and its vectors. A 404 counts only once the RAG server's list confirms that the
        material is gone (a wrong RAG_SERVER_URL or a proxy's 404 must not pass for a deletion)."""
        response = self._call("DELETE", f"/materials/{material_id}")
        if response.status_code == 404:
            listing = self._call("GET", "/materials")
            if listing.status_code == 200 and all(item.get("id") != material_id for item in listing.json()):
                return
        if response.status_code >= 400:
            raise KnowledgeBaseRefused(f"Could not remove material {material_id}: {error_detail(response)}")


@dataclass
class Entry:
    """A file that belongs in the knowledge base: its Drive metadata and how it was reached."""

    file: dict
    folder_id: str
    shortcut_id: str | None = None


@dataclass
class Report:
    trigger: str
    state: str = "running"
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    beat_at: float = field(default_factory=time.time)
    modes: dict = field(default_factory=dict)  # change log → crawl | changes
    counts: dict = field(default_factory=lambda: dict.fromkeys(
        ("added", "updated", "removed", "unchanged", "skipped", "failed"), 0))
    errors: list = field(default_factory=list)
    current: str | None = None
    error: str | None = None

    def fail(self, file_id: str, name: str, error: str) -> None:
        self.counts["failed"] += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:  # all of them stay in the files' rows (/drive/status)
            self.errors.append({"file_id": file_id, "name": name, "error": error})


class DriveSync:
    def __init__(self, drive: DriveClient, knowledge: KnowledgeBase, store: DriveStore, max_bytes: int):
        self.drive, self.knowledge, self.store, self.max_bytes = drive, knowledge, store, max_bytes
        self._pending: list[tuple[dict, str, str]] = []  # (row, material path, added | updated)
        self._parents: dict[str, list[str]] = {}
        self.report = Report("manual")

    def run(self, trigger: str) -> Report:
        self.report = report = Report(trigger)
        self._save()
        try:
            folders = self.store.folders()
            by_drive: dict[str | None, list[DriveFolder]] = defaultdict(list)
            for folder in folders:
                by_drive[folder.drive_id].append(folder)
            for drive_id, scope in by_drive.items():
                token = self.store.page_token(drive_id)
                if token is None or not self.drive.follows_changes:
                    self._crawl(drive_id, scope)
                else:
                    self._follow(drive_id, token, scope)
            watched = {folder.id for folder in folders}
            for known in self.store.files().values():
                if known.folder_id not in watched:  # its folder is no longer watched
                    self._remove(known)
            report.state = "completed"
        except Exception as error:  # recorded for /drive/status; the next run resumes from the saved state
            if not isinstance(error, RuntimeError):  # Drive, RAG server and credential errors explain themselves
                log.exception("Drive sync failed")
            report.state, report.error = "failed", f"{error}"
        finally:
            report.finished_at, report.current = time.time(), None
            self._save()
        return report

    def _save(self) -> None:
        self.report.beat_at = time.time()
        self.store.put(LAST_RUN, self.report.__dict__)

    # Crawl: everything under the folders, then reconcile with what was sent before.
    def _crawl(self, drive_id: str | None, scope: list[DriveFolder]) -> None:
        key = drive_id or "user"
        self.report.modes[key] = "changes, then crawl" if self.report.modes.get(key) == "changes" else "crawl"
        # Taken before listing, so nothing changed during the crawl is missed.
        start = self.drive.start_page_token(drive_id) if self.drive.follows_changes else None
        desired: dict[str, Entry] = {}
        seen: set[str] = set()
        for folder in scope:
            self._walk(folder.id, folder.id, None, drive_id, desired, seen)
        sent = self.store.files()
        for entry in desired.values():
            self._update(entry, sent.get(entry.file["id"]))
        self._flush()
        roots = {folder.id for folder in scope}
        for known in sent.values():
            if known.folder_id in roots and known.id not in desired:
                self._remove(known)
        self.store.save_known_folders(drive_id, seen)
        self.store.save_page_token(drive_id, start)

    def _walk(self, folder_id: str, root: str, shortcut_id: str | None, drive_id: str | None,
              desired: dict[str, Entry], seen: set[str]) -> None:
        if folder_id in seen:
            return
        seen.add(folder_id)
        for child in self.drive.children(folder_id, drive_id):
            if child["mimeType"] == FOLDER:
                self._walk(child["id"], root, shortcut_id, drive_id, desired, seen)
            elif child["mimeType"] == SHORTCUT:
                target_id = (child.get("shortcutDetails") or {}).get("targetId")
                try:
                    target = self.drive.file(target_id) if target_id else None
                except DriveApiError as error:
                    self.report.fail(child["id"], child["name"], str(error))
                    continue
                if target is None or target.get("trashed"):
                    continue
                if target["mimeType"] == FOLDER:
                    self._walk(target["id"], root, shortcut_id or child["id"], drive_id, desired, seen)
                elif target["id"] not in desired:
                    desired[target["id"]] = Entry(target, root, child["id"])
            elif child["id"] not in desired or desired[child["id"]].shortcut_id:  # found directly: that wins
                desired[child["id"]] = Entry(child, root, shortcut_id)

    # Changes: what happened since the saved page token.
    def _follow(self, drive_id: str | None, token: str, scope: list[DriveFolder]) -> None:
        self.report.modes[drive_id or "user"] = "changes"
        roots = {folder.id for folder in scope}
        tree = self.store.known_folders(drive_id) | roots
        recrawl = False
        while True:
            page = self.drive.changes(token, drive_id)
            for change in page.changes:
                recrawl |= self._apply(change, roots, tree)
            self._flush()
            if page.new_start_page_token:
                self.store.save_page_token(drive_id, page.new_start_page_token)
                break
            token = page.next_page_token
            self.store.save_page_token(drive_id, token)
        if recrawl:
            self._crawl(drive_id, scope)

    def _apply(self, change: dict, roots: set[str], tree: set[str]) -> bool:
        """Apply one change; True when the folder tree changed and a crawl must follow."""
        if change.get("changeType", "file") != "file":
            return False
        file_id, file = change["fileId"], change.get("file")
        if file_id in tree or self.store.files_through(file_id):
            return True  # a folder of the tree, or a shortcut followed, was moved, renamed, trashed or unshared
        if file is not None and file["mimeType"] in (FOLDER, SHORTCUT):
            return not file.get("trashed") and self._root_of(file, roots) is not None  # one added to the tree
        known = self.store.file(file_id)
        if change.get("removed") or file is None or file.get("trashed"):
            if known is not None:
                self._remove(known)
            return False
        root = self._root_of(file, roots)
        if root is not None:
            self._update(Entry(file, root), known)
        elif known is not None and known.shortcut_id:
            self._update(Entry(file, known.folder_id, known.shortcut_id), known)  # a shortcut's target changed
        elif known is not None:
            self._remove(known)  # moved out of the watched folders
        return False

    def _root_of(self, file: dict, roots: set[str]) -> str | None:
        """The watched folder above this file, walking up its parents (cached for the run)."""
        frontier, seen = list(file.get("parents") or []), set()
        for _ in range(MAX_DEPTH):
            above: list[str] = []
            for parent in frontier:
                if parent in roots:
                    return parent
                if parent in seen:
                    continue
                seen.add(parent)
                if parent not in self._parents:
                    try:
                        self._parents[parent] = self.drive.file(parent).get("parents") or []
                    except DriveApiError as error:
                        if not error.not_found and error.status != 403:
                            raise
                        self._parents[parent] = []  # a folder out of the sync's sight
                above += self._parents[parent]
            if not above:
                return None
            frontier = above
        return None

    # Sending and removing.
    def _update(self, entry: Entry, known: DriveFile | None) -> None:
        """Send the file unless the knowledge base has this version (`known`: what was sent before)."""
        file, report = entry.file, self.report
        name = material_name(file)
        if name is None:
            report.counts["skipped"] += 1
            return
        current = revision(file)
        row = {"id": file["id"], "folder_id": entry.folder_id, "shortcut_id": entry.shortcut_id, "name": name,
               "mime_type": file["mimeType"], "web_link": file.get("webViewLink")}
        if known is not None and known.revision == current and known.name == name and known.material_id:
            if (known.folder_id, known.shortcut_id) != (entry.folder_id, entry.shortcut_id):
                self.store.save_file(**row, revision=current, material_id=known.material_id, error=known.error)
            report.counts["unchanged"] += 1
            return
        report.current = name
        self._save()
        try:
            content = self.drive.content(file, self.max_bytes)
        except DriveApiError as error:  # tried again at the next sync (the revision is not recorded)
            self._record_failure(row, known, None, str(error))
            return
        try:
            material = self.knowledge.put(file["id"], name, content, file.get("webViewLink"))
        except KnowledgeBaseRefused as error:  # refused for this version: tried again when the file changes
            self._record_failure(row, known, current, str(error))
            return
        finally:
            content.close()
        kind = "updated" if known is not None and known.material_id else "added"
        self._pending.append(({**row, "revision": current, "material_id": material["id"]}, material["path"], kind))
        if len(self._pending) >= BATCH:
            self._flush()

    def _record_failure(self, row: dict, known: DriveFile | None, current: str | None, error: str) -> None:
        self.store.save_file(**row, revision=current, material_id=known.material_id if known else None, error=error)
        self.report.fail(row["id"], row["name"], error)

    def _flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        errors = self.knowledge.index([path for _, path, _ in pending])
        for row, _, kind in pending:
            error = errors.get(row["material_id"])
            self.store.save_file(**row, error=error)
            if error:
                self.report.fail(row["id"], row["name"], error)
            else:
                self.report.counts[kind] += 1
        self._save()

    def _remove(self, known: DriveFile) -> None:
        if known.material_id:
            try:
                self.knowledge.delete(known.material_id)
            except KnowledgeBaseRefused as error:  # kept, and tried again at the next sync
                self.report.fail(known.id, known.name, str(error))
                return
        self.store.forget_file(known.id)
        self.report.counts["removed"] += 1
        self._save()
