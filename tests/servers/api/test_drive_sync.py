"""Google Drive sync against a local Drive v3 server (tests/support/fake_drive.py, spoken to by the real
google-api-python-client and google-auth) and a real RAG server process: crawl, changes, exports, errors,
interruption."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from servers.api import db
from servers.api.drive.queue import DriveQueue
from servers.api.drive.store import DriveStore
from servers.api.models import DriveFolder
from tests.conftest import AUTH, REPO
from tests.servers.api.conftest import migrated
from tests.support.documents import docx_bytes, one_page_pdf, xlsx_bytes
from tests.support.fake_drive import (
    DOC,
    FOLDER,
    SHEET,
    SHORTCUT,
    SLIDES,
    fake_drive_server,
    service_account_file,
)
from tests.support.processes import server_environment, uvicorn_process

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def words(tag: str) -> str:
    """Text no other material has (the RAG server refuses a second material with the same content)."""
    return f"Material {tag} {uuid.uuid4().hex}: agachamento livre com três séries de oito repetições."


@pytest.fixture(scope="module")
def drive_rag(tmp_path_factory) -> str:
    """A RAG server process of its own, empty, that the syncs of this module feed."""
    data_dir = tmp_path_factory.mktemp("rag-for-drive")
    with uvicorn_process("servers.rag.app:create_app", server_environment(data_dir), data_dir / "server.log") as url:
        yield url


@pytest.fixture
def drive():
    with fake_drive_server() as fake:
        yield fake


@pytest.fixture
def drive_settings(settings, drive_rag, drive, monkeypatch, tmp_path):
    from core.settings import get_settings

    key = tmp_path / "service-account.json"
    service_account_file(key, drive)
    monkeypatch.setenv("RAG_SERVER_URL", drive_rag)
    monkeypatch.setenv("GOOGLE_CREDENTIALS_PATH", str(key))
    monkeypatch.setenv("GOOGLE_API_ENDPOINT", f"{drive.url}/drive/v3/")
    monkeypatch.setenv("DRIVE_RETRIES", "3")
    get_settings.cache_clear()
    yield migrated(get_settings())
    get_settings.cache_clear()


@pytest.fixture
def queue(drive_settings):
    engine, sessions = db.open_database(drive_settings)
    yield DriveQueue(drive_settings, sessions)
    engine.dispose()


def watch(queue: DriveQueue, folder) -> None:
    with queue.store.sessions() as session:
        session.add(DriveFolder(id=folder.id, name=folder.name, drive_id=folder.drive_id))
        session.commit()


def drive_materials(rag_url: str, drive_ids) -> dict[str, dict]:
    """The RAG server's materials that came from these Drive files, by Drive id."""
    listed = httpx.get(f"{rag_url}/materials", headers=AUTH).json()
    return {material["drive_id"]: material for material in listed if material["drive_id"] in set(drive_ids)}


def sync(queue: DriveQueue):
    report = queue.sync("manual")
    assert report is not None and report.state == "completed", report and report.error
    return report


def test_crawl_then_follow_changes(queue, drive, drive_rag):
    course = drive.add("Curso", None, FOLDER)
    module = drive.add("Módulo 2", course.id, FOLDER)
    elsewhere = drive.add("Outros", None, FOLDER)
    pdf = drive.add("Treino A.pdf", course.id, content=one_page_pdf("Treino A", words("pdf")))
    doc = drive.add("Plano de treino", module.id, DOC, exports={DOCX: docx_bytes(words("doc"))})
    sheet = drive.add("Cargas", module.id, SHEET, exports={XLSX: xlsx_bytes([["Exercício", "Carga"],
                                                                             ["Supino", words("sheet")]])})
    slides = drive.add("Aula 1", module.id, SLIDES, exports={"application/pdf": one_page_pdf("Aula", words("slides"))})
    linked = drive.add("Extra.txt", elsewhere.id, "text/plain", content=words("shortcut").encode())
    drive.add("Atalho para Extra", course.id, SHORTCUT, target_id=linked.id)
    drive.add("fotos.zip", course.id, "application/zip", content=b"PK")
    drive.add("Formulário", course.id, "application/vnd.google-apps.form")
    watch(queue, course)

    report = sync(queue)
    everything = [pdf.id, doc.id, sheet.id, slides.id, linked.id]
    assert report.modes == {"user": "crawl"} and report.counts["added"] == 5 and report.counts["skipped"] == 2
    materials = drive_materials(drive_rag, everything)
    assert set(materials) == set(everything)
    assert {materials[doc.id]["file_name"], materials[sheet.id]["file_name"], materials[slides.id]["file_name"]} == {
        "Plano de treino.docx", "Cargas.xlsx", "Aula 1.pdf"}
    assert all(material["status"] == "indexed" and material["chunks"] >= 1 for material in materials.values())
    assert materials[pdf.id]["url"] == f"https://drive.google.com/file/d/{pdf.id}/view"

    # Nothing changed: the changes are read, nothing is downloaded again.
    downloads = len([request for request in drive.requests if "alt=media" in request or "/export" in request])
    report = sync(queue)
    assert report.modes == {"user": "changes"} and report.counts["added"] == report.counts["updated"] == 0
    assert len([request for request in drive.requests if "alt=media" in request or "/export" in request]) == downloads

    # An edit, a rename, a copy with an old modification time, a trashed, a deleted, a moved-out, an unshared file.
    drive.change(pdf, content=one_page_pdf("Treino A", words("pdf v2")))
    drive.change(doc, name="Plano de treino (revisado)")
    copy = drive.add("Cópia de Treino B.pdf", module.id, content=one_page_pdf("Treino B", words("copy")),
                     modified_time="2019-03-01T10:00:00.000Z")
    drive.change(sheet, trashed=True)
    drive.delete(slides)
    drive.change(linked, content=words("shortcut v2").encode())  # reached through a shortcut: kept, updated
    report = sync(queue)
    assert report.counts["updated"] == 3 and report.counts["added"] == 1 and report.counts["removed"] == 2, report
    materials = drive_materials(drive_rag, everything + [copy.id])
    assert set(materials) == {pdf.id, doc.id, linked.id, copy.id}
    assert materials[doc.id]["file_name"] == "Plano de treino -revisado-.docx"  # a safe name (servers/uploads.py)
    names = [m["file_name"] for m in httpx.get(f"{drive_rag}/materials", headers=AUTH).json()]
    assert "Plano de treino.docx" not in names  # the earlier name left with its vectors

    drive.change(copy, parents=[elsewhere.id])  # moved out of the watched folder
    drive.change(pdf, shared=False)  # the sync's account lost access
    report = sync(queue)
    assert report.counts["removed"] == 2
    assert set(drive_materials(drive_rag, everything + [copy.id])) == {doc.id, linked.id}

    # A folder moved out takes its files with it (the tree changed: a new crawl reconciles).
    drive.change(module, parents=[elsewhere.id])
    report = sync(queue)
    assert report.modes == {"user": "changes, then crawl"} and report.counts["removed"] == 1
    assert set(drive_materials(drive_rag, everything + [copy.id])) == {linked.id}


def test_answers_cite_the_drive_file(queue, drive, drive_rag):
    course = drive.add("Curso", None, FOLDER)
    text = "A periodização ondulatória diária alterna estímulos de força, hipertrofia e potência na mesma semana."
    note = drive.add("Periodização.txt", course.id, "text/plain", content=f"{text} {uuid.uuid4().hex}".encode())
    watch(queue, course)
    sync(queue)
    answer = httpx.post(f"{drive_rag}/query", headers=AUTH, timeout=120,
                        json={"question": "O que é periodização ondulatória diária?"}).json()
    cited = [source for source in answer["sources"] if source["source"] == "Periodização.txt"]
    assert cited and cited[0]["url"] == f"https://drive.google.com/file/d/{note.id}/view"


def test_export_limit_rate_limits_and_server_errors(queue, drive, drive_rag, monkeypatch):
    monkeypatch.setattr("googleapiclient.http.random.random", lambda: 0.01)  # short backoff sleeps
    course = drive.add("Curso", None, FOLDER)
    huge = drive.add("Apostila completa", course.id, DOC, exports={DOCX: b"x"}, export_size=11 * 2**20)
    note = drive.add("Nota.txt", course.id, "text/plain", content=words("retry").encode())
    watch(queue, course)
    drive.fail_next(429, 500, 403)  # retried with backoff: the sync still succeeds
    report = sync(queue)
    assert report.counts["added"] == 1 and report.counts["failed"] == 1
    assert "10 MB" in report.errors[0]["error"] and report.errors[0]["file_id"] == huge.id
    assert set(drive_materials(drive_rag, [huge.id, note.id])) == {note.id}
    assert queue.store.file(huge.id).error and queue.store.file(huge.id).revision is None  # retried next time

    drive.fail_next(*[503] * 4)  # one more failure than DRIVE_RETRIES: the run fails, and says why
    report = queue.sync("manual")
    assert report.state == "failed" and "503" in report.error
    assert queue.last_run()["state"] == "failed"
    report = sync(queue)  # resumes from the saved page token
    assert report.modes == {"user": "changes"}


def test_a_killed_sync_resumes_without_duplicates(queue, drive, drive_rag, drive_settings):
    course = drive.add("Curso", None, FOLDER)
    files = [drive.add(f"Aula {number}.txt", course.id, "text/plain", content=words(f"kill {number}").encode())
             for number in range(6)]
    watch(queue, course)
    drive.download_seconds = 0.3
    script = "from servers.api.drive.queue import DriveQueue; from servers.api import db; from core.settings import " \
             "get_settings; s = get_settings(); DriveQueue(s, db.open_database(s)[1]).sync('manual')"
    environment = {**os.environ, "DATA_DIR": str(drive_settings.data_dir)}
    process = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, env=environment)
    ids = [file.id for file in files]
    deadline = time.monotonic() + 120
    while not drive_materials(drive_rag, ids):  # killed once the first file reached the RAG server
        assert time.monotonic() < deadline and process.poll() is None, "the sync did not start sending"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert len(drive_materials(drive_rag, ids)) < len(ids) and not queue.store.files()  # none recorded as synced
    drive.download_seconds = 0.0

    report = sync(queue)  # the file lock died with the process; the crawl starts over and completes
    materials = drive_materials(drive_rag, ids)
    assert set(materials) == set(ids) and all(m["status"] == "indexed" for m in materials.values())
    listed = httpx.get(f"{drive_rag}/materials", headers=AUTH).json()
    assert len([m for m in listed if m["drive_id"] in ids]) == len(ids)  # each Drive file once
    assert report.counts["added"] + report.counts["updated"] + report.counts["unchanged"] == len(ids)


def test_one_sync_at_a_time(queue, drive):
    from servers.api.drive.queue import sync_lock

    with sync_lock(queue.settings) as held:
        assert held
        assert queue.sync("manual") is None  # another holds the slot: this one is skipped
    assert isinstance(DriveStore(queue.store.sessions).folders(), list)


def test_an_api_key_alone_crawls_public_folders(queue, drive, drive_rag, monkeypatch):
    from core.settings import get_settings

    monkeypatch.delenv("GOOGLE_CREDENTIALS_PATH")
    monkeypatch.setenv("GOOGLE_DRIVE_API_KEY", "public-key")
    get_settings.cache_clear()
    queue.settings = get_settings()
    course = drive.add("Curso aberto", None, FOLDER)
    note = drive.add("Aberto.txt", course.id, "text/plain", content=words("public").encode())
    watch(queue, course)
    assert sync(queue).modes == {"user": "crawl"}
    drive.delete(note)
    report = sync(queue)  # no changes.list without an account: a crawl again, which sees the deletion
    assert report.modes == {"user": "crawl"} and report.counts["removed"] == 1
    assert not any("/changes" in request for request in drive.requests)


def test_the_schedule_runs_a_sync_when_due(queue, drive, monkeypatch):
    course = drive.add("Curso", None, FOLDER)
    drive.add("Agendado.txt", course.id, "text/plain", content=words("schedule").encode())
    assert queue.next_run() is None  # nothing watched
    watch(queue, course)
    assert queue.next_run() <= time.time()  # never synced: due now
    queue.tick()
    last = queue.last_run()
    assert last["trigger"] == "scheduled" and last["state"] == "completed"
    assert queue.next_run() == pytest.approx(last["started_at"] + 15 * 60)
    queue.tick()  # not due: nothing runs
    assert queue.last_run()["started_at"] == last["started_at"]


def test_a_shared_drive_has_its_own_change_log(queue, drive, drive_rag):
    course = drive.add("Curso (drive compartilhado)", None, FOLDER, drive_id="0AsharedDrive")
    note = drive.add("Compartilhado.txt", course.id, "text/plain", content=words("shared").encode(),
                     drive_id="0AsharedDrive")
    watch(queue, course)
    assert sync(queue).modes == {"0AsharedDrive": "crawl"}
    assert queue.store.page_token("0AsharedDrive") and queue.store.page_token(None) is None
    drive.change(note, content=words("shared v2").encode())
    report = sync(queue)
    assert report.modes == {"0AsharedDrive": "changes"} and report.counts["updated"] == 1
    assert all("driveId=0AsharedDrive" in request for request in drive.requests if "/changes" in request)
    assert any("corpora=drive" in request for request in drive.requests if request.startswith("GET /drive/v3/files?"))


def test_a_404_on_deletion_counts_only_when_the_material_is_gone(drive_settings):
    from servers.api.drive.sync import KnowledgeBase, KnowledgeBaseRefused

    # Something that answers 404 to everything (a wrong RAG_SERVER_URL, a proxy) does not confirm a deletion.
    knowledge = KnowledgeBase(drive_settings, transport=httpx.MockTransport(lambda request: httpx.Response(404)))
    with pytest.raises(KnowledgeBaseRefused, match="Could not remove material"):
        knowledge.delete("0123456789abcdef")
    knowledge.close()
    knowledge = KnowledgeBase(drive_settings)  # the real RAG server: an unknown material is already gone
    knowledge.delete("0123456789abcdef")
    knowledge.close()


def test_the_rag_server_keeps_only_https_links(drive_rag):
    for link in ("javascript:alert(1)", "http://drive.google.com/x", "https://" + "a" * 2100):
        response = httpx.put(f"{drive_rag}/materials/drive/abc123", headers=AUTH, params={"process": "false"},
                             files={"file": ("nota.txt", b"texto")}, data={"url": link})
        assert response.status_code == 422, link
    assert httpx.put(f"{drive_rag}/materials/drive/a%2F..", headers=AUTH,
                     files={"file": ("nota.txt", b"texto")}).status_code in (404, 422)  # not a Drive id
