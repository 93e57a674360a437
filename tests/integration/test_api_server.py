"""Both servers as real processes (uvicorn, free ports, real Redis): a student's whole journey, and
schemathesis against both OpenAPI schemas (no 5xx, responses match their schemas)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from core.redis_checkpoint import RedisSaver
from tests.conftest import AUTH, REPO, SAMPLES, SERVICE_TOKEN, delete_redis_keys
from tests.integration.conftest import wait_for_rag_job
from tests.support.documents import one_page_pdf
from tests.support.processes import API_APP, RAG_APP, server_environment, uvicorn_process
from tests.support.sse import stream_chat

PASSWORD = "senha-forte-123"
ADMIN = "admin@dnadaforca.com.br"


@pytest.fixture(scope="module")
def servers(tmp_path_factory, redis_url):
    """RAG server and API server, sharing nothing but Redis and HTTP (separate DATA_DIRs)."""
    root = tmp_path_factory.mktemp("two-servers")
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    rag_dir, api_dir = root / "rag", root / "api"
    shutil.copytree(SAMPLES, rag_dir / "materials")
    common = {"REDIS_URL": redis_url, "REDIS_PREFIX": prefix}
    try:
        with uvicorn_process(RAG_APP, server_environment(rag_dir, **common), root / "rag.log") as rag:
            api_environment = server_environment(api_dir, **common, RAG_SERVER_URL=rag, FIRST_ADMIN_EMAIL=ADMIN,
                                                 FIRST_ADMIN_PASSWORD=PASSWORD)
            subprocess.run([sys.executable, "-m", "servers.cli", "migrate"], cwd=REPO, env=api_environment, check=True)
            with uvicorn_process(API_APP, api_environment, root / "api.log") as api:
                job = httpx.post(f"{rag}/process-materials", headers=AUTH).json()
                wait_for_rag_job(rag, job["job_id"])
                yield {"rag": rag, "api": api, "redis_url": redis_url, "prefix": prefix}
    finally:
        delete_redis_keys(redis_url, f"{prefix}*")


@pytest.fixture
def pdf_with_a_fact() -> bytes:
    return one_page_pdf("Protocolo de mobilidade antes do agachamento",
                        "Antes do agachamento, faça 7 minutos de mobilidade de quadril e tornozelo, com movimentos "
                        "lentos e controlados. Depois do treino, alongue por 5 minutos.")


def test_student_journey_across_both_processes(servers, pdf_with_a_fact):
    with httpx.Client(base_url=servers["api"], timeout=120) as client:
        registered = client.post("/auth/register", json={"email": "joana@example.com", "password": PASSWORD})
        assert registered.status_code == 201
        student = client.post("/auth/login", data={"username": "joana@example.com", "password": PASSWORD}).json()
        student_headers = {"Authorization": f"Bearer {student['access_token']}"}
        admin = client.post("/auth/login", data={"username": ADMIN, "password": PASSWORD}).json()
        admin_headers = {"Authorization": f"Bearer {admin['access_token']}"}

        upload = client.post("/materials", headers=admin_headers,
                             files={"files": ("protocolo-de-mobilidade.pdf", pdf_with_a_fact)})
        assert upload.status_code == 201, upload.text
        material_id = upload.json()["materials"][0]["id"]
        deadline = time.monotonic() + 120
        while client.get(f"/materials/{material_id}", headers=admin_headers).json()["status"] != "indexed":
            assert time.monotonic() < deadline, "the uploaded PDF was not processed"
            time.sleep(0.2)

        events = stream_chat(client, {"message": "Quantos minutos de mobilidade de quadril antes do agachamento?"},
                         student["access_token"])
        kinds = [kind for kind, _ in events]
        assert kinds[0] == "sources" and kinds[-1] == "done" and "token" in kinds
        done = events[-1][1]
        assert "protocolo-de-mobilidade.pdf" in {source["source"] for source in done["sources"]}
        assert "7 minutos" in done["answer"]

        follow_up = stream_chat(client, {"message": "E depois do treino?", "conversation_id": done["conversation_id"]},
                            student["access_token"])
        assert follow_up[-1][0] == "done"
        # The RAG server remembered the first turn under the thread the API server derived for this conversation.
        me = client.get("/auth/me", headers=student_headers).json()
        saver = RedisSaver.from_url(servers["redis_url"], prefix=servers["prefix"])
        thread = {"configurable": {"thread_id": f"{me['id']}.{done['conversation_id']}", "checkpoint_ns": ""}}
        messages = saver.get_tuple(thread).checkpoint["channel_values"]["messages"]
        assert [message.type for message in messages] == ["human", "ai", "human", "ai"]
        assert "mobilidade de quadril" in messages[0].content

        assert client.post("/auth/logout", headers=student_headers).status_code == 200
        assert client.get("/conversations", headers=student_headers).status_code == 401


def _schemathesis(url: str, token: str, exclude_path_regex: str) -> subprocess.CompletedProcess:
    """The schemathesis CLI (its pytest plugin does not run on pytest 9): no 5xx, responses match their schemas."""
    command = [str(Path(sys.executable).parent / "schemathesis"), "run", f"{url}/openapi.json",
               "--checks", "not_a_server_error,response_schema_conformance",
               "--header", f"Authorization: Bearer {token}",
               "--max-examples", "8", "--generation-deterministic", "--request-timeout", "60",
               "--phases", "examples,coverage,fuzzing", "--exclude-path-regex", exclude_path_regex]
    return subprocess.run(command, capture_output=True, text=True, timeout=900)


def test_api_server_schema(servers):
    login = httpx.post(f"{servers['api']}/auth/login", data={"username": ADMIN, "password": PASSWORD})
    # Logging out or changing the password would end the admin session the other operations use.
    result = _schemathesis(servers["api"], login.json()["access_token"], r"^/auth/(logout|change-password)$")
    assert result.returncode == 0, result.stdout[-6000:]


def test_rag_server_schema(servers):
    # /reset and /restore would wipe the index the other operations answer from. LangServe's routes are in.
    result = _schemathesis(servers["rag"], SERVICE_TOKEN, r"^/(reset|restore)$")
    assert result.returncode == 0, result.stdout[-6000:]
