"""The API server in process (TestClient) in front of a real RAG server process, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from dataclasses import dataclass

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import AUTH, SAMPLES, require
from tests.integration.conftest import wait_for_rag_job
from tests.support.processes import server_environment, uvicorn_process

TEST_POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "senha-forte-123"


@pytest.fixture(scope="session")
def rag_url(tmp_path_factory) -> str:
    """One RAG server process (extractive answers, samples indexed) shared by the API tests."""
    data_dir = tmp_path_factory.mktemp("rag-for-api")
    shutil.copytree(SAMPLES, data_dir / "materials")
    environment = server_environment(data_dir)
    with uvicorn_process("servers.rag.app:create_app", environment, data_dir / "server.log") as url:
        headers = AUTH
        job = httpx.post(f"{url}/process-materials", headers=headers).json()
        assert wait_for_rag_job(url, job["job_id"], headers)["state"] == "completed"
        yield url


@pytest.fixture(scope="session")
def postgres_server() -> str:
    import psycopg

    try:
        psycopg.connect(TEST_POSTGRES_URL, connect_timeout=2).close()
    except psycopg.OperationalError as error:
        require(False, f"PostgreSQL is not reachable at {TEST_POSTGRES_URL}: {error}")
    return TEST_POSTGRES_URL


@pytest.fixture
def postgres_database(postgres_server):
    """A database of its own for one test, dropped after it."""
    import psycopg

    name = f"api_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield postgres_server.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(postgres_server, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request) -> str | None:
    return request.getfixturevalue("postgres_database") if request.param == "postgresql" else None


@pytest.fixture(params=["memory", "redis"])
def kv_backend(request, monkeypatch) -> str:
    """Runs a test with the key-value store in process memory and on the machine's Redis (ask for it before
    `api`/`api_settings`, which read REDIS_URL)."""
    if request.param == "redis":
        monkeypatch.setenv("REDIS_URL", request.getfixturevalue("redis_url"))
        monkeypatch.setenv("REDIS_PREFIX", request.getfixturevalue("redis_prefix"))
    return request.param


@pytest.fixture
def api_settings(settings, rag_url, database_url, monkeypatch):
    from core.settings import get_settings

    monkeypatch.setenv("RAG_SERVER_URL", rag_url)
    monkeypatch.setenv("FIRST_ADMIN_EMAIL", "admin@dnadaforca.com.br")
    monkeypatch.setenv("FIRST_ADMIN_PASSWORD", PASSWORD)
    if database_url:
        monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield migrated(get_settings())
    get_settings.cache_clear()


def migrated(settings):
    """`dnaforca migrate`, as the deploy runs it before the API server starts."""
    from servers.api import db

    engine = db.make_engine(settings)
    db.migrate(engine)
    engine.dispose()
    return settings


@pytest.fixture
def api(api_settings):
    from servers.api.app import create_app

    with TestClient(create_app(api_settings)) as client:
        yield client


@dataclass
class Account:
    email: str
    token: str
    refresh_token: str
    id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def login(client: TestClient, email: str, password: str = PASSWORD) -> Account:
    response = client.post("/auth/login", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    tokens = response.json()
    me = client.get("/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    return Account(email, tokens["access_token"], tokens["refresh_token"], me["id"])


def register(client: TestClient, email: str, password: str = PASSWORD) -> Account:
    response = client.post("/auth/register", json={"email": email, "password": password, "full_name": "Aluna Teste"})
    assert response.status_code == 201, response.text
    return login(client, email, password)


@pytest.fixture
def admin(api) -> Account:
    return login(api, "admin@dnadaforca.com.br")


@pytest.fixture
def student(api) -> Account:
    return register(api, "aluna@example.com")


@pytest.fixture
def other_student(api) -> Account:
    return register(api, "outro@example.com")


@pytest.fixture
def staff(api, admin) -> Account:
    created = api.post("/users", headers=admin.headers,
                       json={"email": "equipe@dnadaforca.com.br", "password": PASSWORD, "role": "staff"})
    assert created.status_code == 201, created.text
    return login(api, "equipe@dnadaforca.com.br")


def wait_for_job(client: TestClient, account: Account, job_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/materials/jobs/{job_id}", headers=account.headers).json()
        if job["state"] in ("completed", "failed"):
            return job
        assert time.monotonic() < deadline, f"job {job_id} did not finish"
        time.sleep(0.1)
