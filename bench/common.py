"""Helpers the benchmarks share: a throw-away DATA_DIR with real services, and percentiles."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from langchain_core.embeddings import Embeddings

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus"
sys.path.insert(0, str(REPO))
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
# The RAG server's service token in the benchmarks' servers.
SERVICE_TOKEN = "service-token-of-the-benchmarks-0123456789"
AUTH = {"Authorization": f"Bearer {SERVICE_TOKEN}"}


def fresh_services(embeddings, data_dir: Path | None = None, **overrides):
    """Real services on their own DATA_DIR (a new temporary one unless given)."""
    from core.settings import Settings
    from knowledge.services import build_services, use_services

    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="dnaforca-bench-"))
    settings = Settings(data_dir=data_dir, llm_provider="extractive", **overrides)
    services = build_services(settings, embeddings=embeddings)
    use_services(services)
    return services


class StoredEmbeddings(Embeddings):
    """Embeddings that keep every vector they computed in one file, so a bench's second run embeds only new text
    (the index records the inner model's name: vectors never mix with another model's)."""

    def __init__(self, inner, path: Path):
        import numpy as np

        self.inner, self.path, self.name = inner, path, inner.name
        self._vectors: dict[str, list[float]] = {}
        self.unsaved = False
        if path.exists():
            stored = np.load(path)
            self._vectors = dict(zip(stored["keys"].tolist(), stored["vectors"].tolist(), strict=True))

    def _embed(self, texts: list[str], kind: str, embed) -> list[list[float]]:
        import hashlib

        keys = [hashlib.sha256(f"{kind}:{text}".encode()).hexdigest() for text in texts]
        missing = [(key, text) for key, text in zip(keys, texts, strict=True) if key not in self._vectors]
        if missing:
            self._vectors.update(zip([key for key, _ in missing], embed([text for _, text in missing]), strict=True))
            self.unsaved = True
        return [self._vectors[key] for key in keys]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._embed(texts, "passage", self.inner.embed_documents)

    def embed_query(self, text: str) -> list[float]:
        return self._embed([text], "query", lambda texts: [self.inner.embed_query(texts[0])])[0]

    def save(self) -> None:
        import numpy as np

        if not self.unsaved:
            return
        self.unsaved = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("wb") as file:
            np.savez(file, keys=np.array(list(self._vectors)), vectors=np.array(list(self._vectors.values())))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], environment: dict, url: str, log: Path, probe: str = "/health") -> subprocess.Popen:
    """A server as its own process, once `url + probe` answers 200."""
    process = subprocess.Popen(command, cwd=REPO, env=environment, stdout=log.open("w"), stderr=subprocess.STDOUT)
    for _ in range(1200):
        if process.poll() is not None:
            raise RuntimeError(f"{command} exited with {process.returncode}; see {log}")
        try:
            if httpx.get(f"{url}{probe}", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{command} did not start; see {log}")


def index_materials(url: str) -> None:
    """Index the RAG server's MATERIALS_DIR (a job) and wait for it."""
    job = httpx.post(f"{url}/process-materials", headers=AUTH).json()["job_id"]
    while httpx.get(f"{url}/jobs/{job}", headers=AUTH).json()["state"] not in ("completed", "failed"):
        time.sleep(0.2)
