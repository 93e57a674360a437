"""The real images in the real compose stack (podman + podman-compose), driven through scripts/deploy.sh:
register, log in, upload, the worker container indexes, a streamed answer through the API container cites the
file; then two RAG, API and worker replicas behind the proxy, both RAG replicas answering; restarted RAG
servers continue a conversation from Redis; a backup comes out of the script.

Run by `make test-containers` (tests/containers/prepare.sh builds the images first), not by `make test`.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO
from tests.support.documents import one_page_pdf
from tests.support.sse import stream_chat

pytestmark = pytest.mark.containers

PORTS = {"API_PUBLISHED_PORT": 18000, "RAG_PUBLISHED_PORT": 18001, "PROXY_API_PORT": 18080, "PROXY_RAG_PORT": 18081}
ADMIN, PASSWORD = "admin@dnadaforca.com.br", "senha-forte-123"
STUDENT = "aluna@example.com"
FILES = ["docker-compose.yml", "docker-compose.override.yml", "compose.scale.yml", "env.example",
         "scripts/deploy.sh", "deploy/haproxy.cfg"]
# Run inside the RAG container: the messages of one conversation's latest checkpoint, read with the product's saver.
CHECKPOINT_MESSAGES = """
import json, sys
from core.redis_checkpoint import RedisSaver
from core.settings import Settings
settings = Settings()
saver = RedisSaver.from_url(settings.redis_url, prefix=settings.redis_prefix)
latest = saver.get_tuple({"configurable": {"thread_id": sys.argv[1], "checkpoint_ns": ""}})
print(json.dumps([[m.type, m.content] for m in latest.checkpoint["channel_values"]["messages"]]))
"""
QUESTION = "Quantos minutos de mobilidade de tornozelo antes do levantamento terra?"


def _compose_environment() -> dict[str, str]:
    """Only what the tools need: Compose lets the caller's environment override .env, and this test process
    carries the suite's own settings (RAG_SERVICE_TOKEN among them)."""
    kept = {name: os.environ[name] for name in ("HOME", "LANG", "TMPDIR") if name in os.environ}
    return {**kept, "COMPOSE": "podman-compose", "COMPOSE_FILES": "compose.test.yml",
            "CONTAINERS_CONF": str(REPO / "tests/containers/containers.conf"),
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "DEPLOY_WAIT": "300"}


class Stack:
    def __init__(self, root: Path):
        self.root = root
        self.state: dict = {}

    def deploy_script(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        result = subprocess.run(["scripts/deploy.sh", *args], cwd=self.root, env=_compose_environment(),
                                capture_output=True, text=True, timeout=timeout)
        assert result.returncode == 0, f"deploy.sh {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result

    def env(self, name: str) -> str:
        return re.search(rf"^{name}=(.+)$", (self.root / ".env").read_text(), re.M).group(1).strip()

    def containers(self, service: str) -> list[str]:
        names = subprocess.run(["podman", "ps", "--format", "{{.Names}}", "--filter",
                                f"label=com.docker.compose.service={service}"],
                               capture_output=True, text=True, check=True, env=_compose_environment()).stdout.split()
        return sorted(names)

    def logs(self, container: str) -> str:
        result = subprocess.run(["podman", "logs", container], capture_output=True, text=True,
                                env=_compose_environment())
        return result.stdout + result.stderr

    def podman(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["podman", *args], capture_output=True, text=True, env=_compose_environment())


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A deployment folder (the files an operator copies) with a .env of test ports and a first admin."""
    if shutil.which("podman") is None:
        pytest.fail("podman is not installed: run tests/containers/prepare.sh (make test-containers)")
    root = tmp_path_factory.mktemp("deployment")
    for name in FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, root / name)
    shutil.copy2(REPO / "tests/containers/compose.test.yml", root / "compose.test.yml")
    settings = {**PORTS, "IMAGE_PREFIX": "localhost/dnaforca", "FIRST_ADMIN_EMAIL": ADMIN,
                "FIRST_ADMIN_PASSWORD": PASSWORD, "LOG_LEVEL": "INFO"}
    (root / ".env").write_text("".join(f"{name}={value}\n" for name, value in settings.items()))
    stack = Stack(root)
    _remove_project()  # what an interrupted run left
    try:
        yield stack
    finally:
        _remove_project()


def _remove_project() -> None:
    """Every container, volume and the network of the compose project, whichever files started them."""
    subprocess.run(["podman", "pod", "rm", "-f", "pod_dna-forca"], capture_output=True, env=_compose_environment(),
                   timeout=300)
    label = "label=com.docker.compose.project=dna-forca"
    for listing, removal in ((["ps", "-a"], ["rm", "-f"]), (["volume", "ls"], ["volume", "rm", "-f"])):
        found = subprocess.run(["podman", *listing, "-q", "--filter", label], capture_output=True, text=True,
                               env=_compose_environment()).stdout.split()
        if found:
            subprocess.run(["podman", *removal, *found], capture_output=True, env=_compose_environment(), timeout=300)
    subprocess.run(["podman", "network", "rm", "-f", "dna-forca-network"], capture_output=True,
                   env=_compose_environment())


def _login(client: httpx.Client, email: str) -> str:
    response = client.post("/auth/login", data={"username": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def test_deploy_writes_secrets_and_runs_unprivileged_healthy_containers(stack):
    result = stack.deploy_script("deploy", "--no-build")
    assert "API server: healthy" in result.stdout and "RAG server: healthy" in result.stdout
    for name in ("JWT_SECRET_KEY", "RAG_SERVICE_TOKEN", "REDIS_PASSWORD"):
        assert len(stack.env(name)) >= 32, name
    for service in ("rag-server", "api-server", "worker"):
        [container] = stack.containers(service)
        assert stack.podman("exec", container, "id", "-u").stdout.strip() == "10001", service
    for service in ("rag-server", "api-server"):
        [container] = stack.containers(service)
        check = stack.podman("healthcheck", "run", container)
        assert check.returncode == 0, f"{service}: HEALTHCHECK failed: {check.stdout}{check.stderr}"
    # The RAG server runs no worker of its own; Redis requires its password.
    [rag] = stack.containers("rag-server")
    assert stack.podman("exec", rag, "printenv", "INLINE_WORKER").stdout.strip() == "false"
    [redis] = stack.containers("redis")
    assert "NOAUTH" in stack.podman("exec", redis, "env", "-u", "REDISCLI_AUTH", "redis-cli", "get", "x").stdout


def test_upload_indexed_by_the_worker_and_a_streamed_cited_answer(stack):
    with httpx.Client(base_url=f"http://127.0.0.1:{PORTS['API_PUBLISHED_PORT']}", timeout=120) as client:
        assert client.post("/auth/register", json={"email": STUDENT, "password": PASSWORD}).status_code == 201
        admin, student = _login(client, ADMIN), _login(client, STUDENT)
        lesson = one_page_pdf("Aquecimento para o levantamento terra",
                              "Antes do levantamento terra, faça 6 minutos de mobilidade de tornozelo e quadril, "
                              "seguidos de duas séries leves com a barra vazia.")
        upload = client.post("/materials", headers={"Authorization": f"Bearer {admin}"},
                             files={"files": ("aquecimento-terra.pdf", lesson)})
        assert upload.status_code == 201, upload.text
        job_id = upload.json()["job_id"]
        deadline = time.monotonic() + 180
        while (job := client.get(f"/materials/jobs/{job_id}", headers={"Authorization": f"Bearer {admin}"}).json()
               )["state"] != "completed":
            assert job["state"] != "failed" and time.monotonic() < deadline, job
            time.sleep(1)
        [worker] = stack.containers("worker")
        # The RAG server runs no worker (INLINE_WORKER=false): the worker container ran the ingestion.
        assert re.search(r"knowledge\.jobs\.ingest: \S+ executed", stack.logs(worker)), stack.logs(worker)

        events = stream_chat(client, {"message": QUESTION}, student)
        kinds = [kind for kind, _ in events]
        assert kinds[0] == "sources" and "token" in kinds and kinds[-1] == "done", kinds
        done = events[-1][1]
        assert "aquecimento-terra.pdf" in {source["source"] for source in done["sources"]}
        assert "6 minutos" in done["answer"]
        me = client.get("/auth/me", headers={"Authorization": f"Bearer {student}"}).json()
        stack.state.update(student=student, conversation_id=done["conversation_id"],
                           thread_id=f"{me['id']}.{done['conversation_id']}")


def test_replicas_behind_the_proxy_all_answer(stack):
    stack.deploy_script("deploy", "--no-build", "--scale", "2")
    rag_replicas = stack.containers("rag-server")
    assert len(rag_replicas) == 2 and len(stack.containers("api-server")) == 2 and len(stack.containers("worker")) == 2
    service = {"Authorization": f"Bearer {stack.env('RAG_SERVICE_TOKEN')}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{PORTS['PROXY_RAG_PORT']}", timeout=120) as rag:
        for number in range(8):
            response = rag.post("/query", json={"question": f"{QUESTION} ({number})"}, headers=service)
            assert response.status_code == 200, response.text
            assert "aquecimento-terra.pdf" in {source["source"] for source in response.json()["sources"]}
    for replica in rag_replicas:
        assert "POST /query" in stack.logs(replica), f"{replica} answered no question"
    # The servers' own ports are not published when they run as replicas.
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{PORTS['API_PUBLISHED_PORT']}/health", timeout=5)


def test_a_conversation_continues_after_the_rag_servers_restart(stack):
    restart = subprocess.run(["podman", "restart", *stack.containers("rag-server")], capture_output=True, text=True,
                             env=_compose_environment(), timeout=120)
    assert restart.returncode == 0, restart.stderr
    with httpx.Client(base_url=f"http://127.0.0.1:{PORTS['PROXY_API_PORT']}", timeout=120) as client:
        deadline = time.monotonic() + 180
        while client.get("/status").json().get("status") != "ok":
            assert time.monotonic() < deadline, "the RAG servers did not come back"
            time.sleep(2)
        follow_up = stream_chat(client, {"message": "E depois disso, quantas séries leves?",
                                         "conversation_id": stack.state["conversation_id"]}, stack.state["student"])
        assert follow_up[-1][0] == "done"
    # The conversation's checkpoint in the Redis container holds both turns, the one from before the restart too.
    rag = stack.containers("rag-server")[0]
    read = stack.podman("exec", rag, "python", "-c", CHECKPOINT_MESSAGES, stack.state["thread_id"])
    assert read.returncode == 0, read.stderr
    messages = json.loads(read.stdout)
    assert [kind for kind, _ in messages] == ["human", "ai", "human", "ai"]
    assert messages[0][1] == QUESTION


def test_backup_and_logs_through_the_script(stack):
    archive = stack.root / "backups" / "test.tar.gz"
    stack.deploy_script("backup", str(archive))
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == ["database.json", "rag.tar.gz"]
        with tarfile.open(fileobj=io.BytesIO(tar.extractfile("rag.tar.gz").read())) as rag:
            assert any(name.endswith("aquecimento-terra.pdf") for name in rag.getnames())
    logs = stack.deploy_script("logs", "rag")
    assert "Uvicorn running" in logs.stdout + logs.stderr
    assert "API server (via proxy): healthy" in stack.deploy_script("status").stdout
