"""Google Drive sync with both servers as processes: an admin watches a folder (given as its Drive link), the API
server's queue syncs it into the RAG server, a student's answer cites the Drive file with its link, and the file's
deletion in Drive removes it from answers at the next sync. Drive is the local fake (tests/support/fake_drive.py),
reached by the API server process through GOOGLE_API_ENDPOINT with a real service-account token exchange."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import REPO
from tests.support.documents import docx_bytes, one_page_pdf
from tests.support.fake_drive import DOC, FOLDER, fake_drive_server, service_account_file
from tests.support.processes import API_APP, RAG_APP, server_environment, uvicorn_process
from tests.support.sse import stream_chat

PASSWORD = "senha-forte-123"
ADMIN = "admin@dnadaforca.com.br"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
QUESTION = "Quantos minutos de mobilidade de tornozelo antes do levantamento terra?"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("drive-servers")
    with fake_drive_server() as drive:
        key = root / "credentials.json"
        service_account_file(key, drive)
        with uvicorn_process(RAG_APP, server_environment(root / "rag"), root / "rag.log") as rag:
            environment = server_environment(
                root / "api", RAG_SERVER_URL=rag, FIRST_ADMIN_EMAIL=ADMIN, FIRST_ADMIN_PASSWORD=PASSWORD,
                GOOGLE_CREDENTIALS_PATH=str(key), GOOGLE_API_ENDPOINT=f"{drive.url}/drive/v3/",
                DRIVE_SYNC_INTERVAL_MINUTES="0")
            subprocess.run([sys.executable, "-m", "servers.cli", "migrate"], cwd=REPO, env=environment, check=True)
            with uvicorn_process(API_APP, environment, root / "api.log") as api:
                yield drive, api


def login(client: httpx.Client, email: str) -> dict:
    token = client.post("/auth/login", data={"username": email, "password": PASSWORD}).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def wait_for_sync(client: httpx.Client, headers: dict, after: str | None) -> dict:
    deadline = time.monotonic() + 180
    while True:
        last = client.get("/drive/status", headers=headers).json()["last_sync"]
        if last and last["started_at"] != after and last["state"] in ("completed", "failed"):
            return last
        assert time.monotonic() < deadline, "the sync did not end"
        time.sleep(0.2)


def cited(client: httpx.Client, token: str) -> list[dict]:
    events = stream_chat(client, {"message": QUESTION}, token)
    assert events[-1][0] == "done", events[-1]
    return events[-1][1]["sources"]


def test_a_watched_folder_feeds_cited_answers_and_deletions_follow(stack):
    drive, api = stack
    course = drive.add("Curso DNA", None, FOLDER)
    fact = drive.add("Protocolo terra.pdf", course.id, content=one_page_pdf(
        "Protocolo de mobilidade para o levantamento terra",
        "Antes do levantamento terra, faça 9 minutos de mobilidade de tornozelo e quadril."))
    drive.add("Glossário", course.id, DOC, exports={DOCX: docx_bytes("Cadência: o ritmo de cada repetição.")})
    with httpx.Client(base_url=api, timeout=120) as client:
        admin = login(client, ADMIN)
        client.post("/auth/register", json={"email": "aluna@example.com", "password": PASSWORD, "full_name": "Aluna"})
        student = login(client, "aluna@example.com")
        assert client.get("/drive/status").status_code == 401
        assert client.get("/drive/status", headers=student).status_code == 403
        assert client.post("/drive/folders", headers=student, json={"folder": course.id}).status_code == 403

        link = f"https://drive.google.com/drive/folders/{course.id}?usp=sharing"
        added = client.post("/drive/folders", headers=admin, json={"folder": link})
        assert added.status_code == 201, added.text
        assert added.json()["name"] == "Curso DNA"
        assert client.post("/drive/folders", headers=admin, json={"folder": course.id}).status_code == 409
        assert client.post("/drive/folders", headers=admin, json={"folder": fact.id}).status_code == 400  # a file
        assert client.post("/drive/folders", headers=admin, json={"folder": "nao-existe"}).status_code == 404
        first = wait_for_sync(client, admin, None)
        assert first["state"] == "completed" and first["counts"]["added"] == 2, first

        status = client.get("/drive/status", headers=admin).json()
        assert status["configured"] and status["credentials"] == "service_account" and status["files"] == 2
        listing = client.get(f"/drive/folders/{course.id}/files", headers=admin).json()
        assert {item["name"]: bool(item["material_id"]) for item in listing} == {"Glossário": True,
                                                                                  "Protocolo terra.pdf": True}

        student_token = student["Authorization"].removeprefix("Bearer ")
        sources = [source for source in cited(client, student_token) if source["source"] == "Protocolo terra.pdf"]
        assert sources and sources[0]["url"] == f"https://drive.google.com/file/d/{fact.id}/view"

        drive.delete(fact)
        assert client.post("/drive/sync", headers=admin).status_code == 202
        second = wait_for_sync(client, admin, first["started_at"])
        assert second["state"] == "completed" and second["counts"]["removed"] == 1, second
        assert "Protocolo terra.pdf" not in {source["source"] for source in cited(client, student_token)}

        assert client.delete(f"/drive/folders/{course.id}", headers=admin).status_code == 200
        third = wait_for_sync(client, admin, second["started_at"])
        assert third["counts"]["removed"] == 1 and client.get("/drive/status", headers=admin).json()["files"] == 0
