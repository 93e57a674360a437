"""Shared fixtures: an isolated DATA_DIR per test, real embeddings, real stores."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "examples" / "materials"
CORPUS = REPO.parent / "shared" / "corpus"
# The local model's joined GGUF (1.1 GB) is built once per checkout, not once per test.
MODELS_DIR = REPO / "data" / "models"
# The RAG server's service token in every test (servers started by tests get it too).
SERVICE_TOKEN = "service-token-of-the-test-suite-0123456789"
AUTH = {"Authorization": f"Bearer {SERVICE_TOKEN}"}

os.environ.update(
    {
        "ANONYMIZED_TELEMETRY": "False",
        "LANGSMITH_TRACING": "false",
        "LLM_PROVIDER": "extractive",
        "EMBEDDINGS_PROVIDER": "local",
        "MODELS_DIR": str(MODELS_DIR),
        "ENVIRONMENT": "test",
        "BCRYPT_ROUNDS": "4",
        "JWT_SECRET_KEY": "test-secret-that-is-long-enough-for-hs256",
        "RAG_SERVICE_TOKEN": SERVICE_TOKEN,
        # TestClient's host, besides the loopback names of servers started as processes.
        "ALLOWED_HOSTS": "testserver,localhost,127.0.0.1",
    }
)
for variable in ("OPENAI_API_KEY", "GEMINI_API_KEY", "CHROMA_PERSIST_DIR", "MATERIALS_DIR", "REDIS_URL",
                 "REDIS_CLUSTER"):
    os.environ.pop(variable, None)


@pytest.fixture(scope="session")
def embeddings():
    """One real e5 model for the whole session (it loads in milliseconds, but keeps its arena)."""
    from core.embeddings import LocalE5Embeddings

    return LocalE5Embeddings()


class CountingEmbeddings(Embeddings):
    """The real embeddings, counting how many texts they were asked to embed."""

    def __init__(self, inner, name: str | None = None):
        self.inner = inner
        self.documents_embedded = 0
        self.name = name or inner.name

    def embed_documents(self, texts):
        self.documents_embedded += len(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text):
        return self.inner.embed_query(text)


@pytest.fixture
def settings(tmp_path, monkeypatch):
    from core.settings import get_settings

    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def services(settings, embeddings):
    from knowledge.services import build_services, use_services

    counting = CountingEmbeddings(embeddings)
    built = build_services(settings, embeddings=counting)
    use_services(built)
    yield built
    use_services(None)
    built.catalog.close()


@pytest.fixture
def materials(services) -> Path:
    """The bundled samples copied into this test's MATERIALS_DIR."""
    root = services.settings.materials_path
    for path in SAMPLES.iterdir():
        shutil.copy2(path, root / path.name)
    return root


def require(condition: bool, reason: str) -> None:
    """A missing system dependency fails the test with what to install; a skipped test would prove nothing."""
    if not condition:
        pytest.fail(f"{reason} (`bash .ci/run` installs the system packages and starts Redis)", pytrace=False)


# The machine's Redis, on a database of its own; each test gets a key prefix and its keys are removed after.
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="session")
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=1).ping()
    except redis.ConnectionError as error:
        require(False, f"Redis is not reachable at {TEST_REDIS_URL}: {error}")
    return TEST_REDIS_URL


@pytest.fixture
def redis_prefix(redis_url) -> str:
    import uuid

    prefix = f"test-{uuid.uuid4().hex[:12]}"
    yield prefix
    delete_redis_keys(redis_url, f"{prefix}:*")


def delete_redis_keys(url: str, pattern: str) -> None:
    """What a test left in the machine's Redis under its own prefix."""
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(pattern, count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def redis_settings(settings, redis_url, redis_prefix, monkeypatch):
    """`settings` with REDIS_URL set: every Redis-backed part switches on."""
    from core.settings import get_settings

    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("REDIS_PREFIX", redis_prefix)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory) -> str:
    """A real Redis Cluster for the session: three masters of Debian's redis-server on loopback ports."""
    from tests.support.redis_cluster import redis_cluster

    with redis_cluster(tmp_path_factory.mktemp("redis-cluster")) as cluster:
        yield cluster.url


@pytest.fixture
def redis_cluster_settings(settings, redis_cluster_url, monkeypatch):
    """`settings` on the Redis Cluster (REDIS_CLUSTER=true), under a key prefix of the test's own."""
    import uuid

    from core.settings import get_settings

    monkeypatch.setenv("REDIS_URL", redis_cluster_url)
    monkeypatch.setenv("REDIS_CLUSTER", "true")
    monkeypatch.setenv("REDIS_PREFIX", f"test-{uuid.uuid4().hex[:12]}")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@contextmanager
def indexed_app(settings, embeddings):
    """The RAG server app (in process) on `settings`, with the samples indexed by its job queue."""
    from fastapi.testclient import TestClient

    from knowledge.services import build_services, use_services
    from servers.rag.app import create_app

    services = build_services(settings, embeddings=embeddings)
    use_services(services)
    for path in SAMPLES.iterdir():
        shutil.copy2(path, settings.materials_path / path.name)
    try:
        with TestClient(create_app(), headers=AUTH) as client:
            job = client.post("/process-materials").json()
            assert client.app.state.jobs.wait(job["job_id"]).state == "completed"
            yield client
    finally:
        use_services(None)
        services.catalog.close()
