"""Materials through the API server: upload limits, names, duplicates, state, download, delete; maintenance."""

from __future__ import annotations

import io
import tarfile
import time

import pytest
from fastapi.testclient import TestClient

from servers.api.app import create_app
from tests.conftest import SAMPLES
from tests.servers.api.conftest import wait_for_job

NOTE = "Aquecimento específico: duas séries leves do exercício antes das séries de trabalho.".encode()


def _upload(api, account, name, content, **params):
    return api.post("/materials", headers=account.headers, params=params, files={"files": (name, content)})


@pytest.mark.parametrize("database_url", [None])
def test_upload_process_download_delete(api, staff):
    response = _upload(api, staff, "../../etc/Aquecimento <novo>.TXT", NOTE)
    assert response.status_code == 201, response.text
    material = response.json()["materials"][0]
    assert material["file_name"] == "Aquecimento -novo-.txt" and material["uploaded_by"] == staff.id
    assert wait_for_job(api, staff, response.json()["job_id"])["state"] == "completed"
    listed = {m["id"]: m for m in api.get("/materials", headers=staff.headers).json()}
    assert listed[material["id"]]["status"] == "indexed" and listed[material["id"]]["chunks"] >= 1

    download = api.get(f"/materials/{material['id']}/file", headers=staff.headers)
    assert download.status_code == 200 and download.content == NOTE
    assert "Aquecimento" in download.headers["content-disposition"]

    # The same content under another name is a duplicate; unknown types and empty files are refused.
    assert _upload(api, staff, "copia.txt", NOTE).status_code == 409
    assert _upload(api, staff, "virus.exe", b"MZ").status_code == 415
    assert _upload(api, staff, "vazio.txt", b"").status_code == 400

    deleted = api.delete(f"/materials/{material['id']}", headers=staff.headers)
    assert deleted.status_code == 200 and deleted.json()["vectors_removed"] >= 1
    assert api.get(f"/materials/{material['id']}", headers=staff.headers).status_code == 404
    again = _upload(api, staff, "copia.txt", NOTE, process=False)  # no longer a duplicate
    assert again.status_code == 201
    assert api.delete(f"/materials/{again.json()['materials'][0]['id']}", headers=staff.headers).status_code == 200


@pytest.mark.parametrize("database_url", [None])
def test_upload_over_the_size_limit_is_413(api_settings, monkeypatch):
    from tests.servers.api.conftest import login

    with TestClient(create_app(api_settings.model_copy(update={"max_upload_mb": 1}))) as api:
        admin = login(api, "admin@dnadaforca.com.br")
        response = _upload(api, admin, "grande.txt", b"a" * (2**20 + 1))
        assert response.status_code == 413 and "MAX_UPLOAD_MB" in response.json()["detail"]


@pytest.mark.parametrize("database_url", [None])
def test_cors_allows_exactly_the_configured_origins(api_settings):
    settings = api_settings.model_copy(update={"cors_origins": ["https://app.dnadaforca.com.br"]})
    with TestClient(create_app(settings)) as api:
        for origin, allowed in (("https://app.dnadaforca.com.br", True), ("https://evil.example", False),
                                ("https://app.dnadaforca.com.br.evil.example", False)):
            preflight = api.options("/chat", headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
            assert (preflight.headers.get("access-control-allow-origin") == origin) is allowed


def test_backup_and_restore(api, admin, student, tmp_path):
    conversation = api.post("/chat-auth", json={"message": "Quanto tempo devo dormir?"}, headers=student.headers).json()
    backup = api.get("/maintenance/backup", headers=admin.headers)
    assert backup.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(backup.content)) as archive:
        assert sorted(archive.getnames()) == ["database.json", "rag.tar.gz"]
        with tarfile.open(fileobj=archive.extractfile("rag.tar.gz")) as rag:
            names = rag.getnames()
    assert "catalog.sqlite3" in names and "chroma" in names
    assert {f"materials/{path.name}" for path in SAMPLES.iterdir()} <= set(names)

    # Lose data on both sides, then restore.
    assert api.delete(f"/conversations/{conversation['conversation_id']}", headers=student.headers).status_code == 204
    sample = api.get("/materials", headers=admin.headers).json()[0]
    assert api.delete(f"/materials/{sample['id']}", headers=admin.headers).status_code == 200

    restored = api.post("/maintenance/restore", headers=admin.headers,
                        files={"archive": ("backup.tar.gz", backup.content)})
    assert restored.status_code == 200, restored.text
    assert restored.json()["database"]["messages"] == 2
    history = api.get(f"/conversations/{conversation['conversation_id']}", headers=student.headers)
    assert history.status_code == 200 and len(history.json()["messages"]) == 2
    materials = {m["id"]: m for m in api.get("/materials", headers=admin.headers).json()}
    assert materials[sample["id"]]["status"] == "indexed"
    answer = api.post("/chat", json={"message": "Quantas repetições para hipertrofia?"}).json()
    assert "6 a 12 repetições" in answer["answer"]

    bad = api.post("/maintenance/restore", headers=admin.headers, files={"archive": ("x.tar.gz", b"garbage")})
    assert bad.status_code == 400 and "Not a backup archive" in bad.json()["detail"]


@pytest.mark.parametrize("database_url", [None])
def test_clear_caches_and_reindex(api, admin):
    question = {"message": "Qual o intervalo de descanso para hipertrofia?"}
    api.post("/chat", json=question)
    cleared = api.post("/maintenance/clear-caches", headers=admin.headers)
    assert cleared.status_code == 200 and cleared.json()["answers_removed"] >= 1
    assert api.post("/maintenance/clear-caches", headers=admin.headers).json()["answers_removed"] == 0
    job = api.post("/maintenance/reindex", headers=admin.headers)
    assert job.status_code == 202
    started = time.monotonic()
    finished = wait_for_job(api, admin, job.json()["job_id"])
    assert finished["state"] == "completed" and finished["files_done"] == finished["files_total"] >= 4, (
        finished, time.monotonic() - started)
