"""The Chroma collection of chunks, which records the embedding model that filled it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import urlparse

import chromadb
from chromadb.api.shared_system_client import SharedSystemClient
from chromadb.config import Settings as ChromaSettings

from core.settings import Settings

# Chunks (or ids) per call to Chroma: a call with every id of a large index exceeds SQLite's 32,766 bound
# variables inside Chroma ("too many SQL variables"), so whole-index reads and writes go page by page.
PAGE = 1000


class EmbeddingModelMismatch(RuntimeError):
    """The index holds vectors of another embedding model than the one configured."""


@dataclass(frozen=True)
class StoredChunk:
    id: str
    text: str
    metadata: dict
    score: float


def _client(settings: Settings) -> chromadb.ClientAPI:
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=True)
    if settings.chroma_server_url:
        url = urlparse(settings.chroma_server_url)
        return chromadb.HttpClient(
            host=url.hostname or "localhost",
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
    settings.chroma_path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)


class VectorIndex:
    def __init__(self, settings: Settings, embedding_model: str, version_seen: int | None = None):
        self._settings = settings
        self._client = _client(settings)
        self._name = settings.chroma_collection
        self.embedding_model = embedding_model
        self._collection = self._open()
        # The catalogue's index version this process's view of the index reflects (see `reload`).
        self.version_seen = version_seen

    def reload(self, version: int) -> None:
        """Re-read the index another process (an ingestion worker) changed.

        An embedded Chroma keeps its vector index in memory and does not notice another process's writes;
        a fresh client reads them from disk (about 10 ms). Chroma caches one client per path, so that
        cache entry is dropped first; queries already running finish on the old client.
        """
        if not self._settings.chroma_server_url:
            SharedSystemClient._identifier_to_system.pop(self._client._identifier, None)
            self._client = _client(self._settings)
            self._collection = self._open()
        self.version_seen = version

    def _open(self) -> chromadb.Collection:
        # No metadata here: passing it would overwrite the model an existing collection recorded.
        collection = self._client.get_or_create_collection(
            self._name, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
        )
        if not (collection.metadata or {}).get("embedding_model"):
            collection.modify(metadata={"embedding_model": self.embedding_model})
        return collection

    @property
    def recorded_model(self) -> tuple[str | None, int | None]:
        metadata = self._collection.metadata or {}
        return metadata.get("embedding_model"), metadata.get("dimension")

    def check_embedding_model(self) -> None:
        model, dimension = self.recorded_model
        if model not in (None, self.embedding_model) and self.count() > 0:
            raise EmbeddingModelMismatch(
                f"The index was built with the embedding model '{model}' ({dimension} dimensions) but "
                f"the configured one is '{self.embedding_model}'. Rebuild the index with `dnaforca reindex` "
                "(or POST /reset then POST /process-materials), or set EMBEDDINGS_PROVIDER back."
            )

    def count(self) -> int:
        return self._collection.count()

    def ids_of_material(self, material_id: str) -> set[str]:
        return {id_ for ids, _, _ in self.pages(where={"material_id": material_id}, include=[]) for id_ in ids}

    def add(self, ids: Sequence[str], texts: Sequence[str], vectors: Sequence[Sequence[float]],
            metadatas: Sequence[dict]) -> None:
        if not ids:
            return
        self.check_embedding_model()
        model, dimension = self.recorded_model
        if model != self.embedding_model or dimension != len(vectors[0]):
            self._collection.modify(metadata={"embedding_model": self.embedding_model, "dimension": len(vectors[0])})
        for start in range(0, len(ids), PAGE):
            end = start + PAGE
            self._collection.upsert(ids=list(ids[start:end]), documents=list(texts[start:end]),
                                    embeddings=list(vectors[start:end]), metadatas=list(metadatas[start:end]))

    def delete(self, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), PAGE):
            self._collection.delete(ids=list(ids[start : start + PAGE]))

    def delete_material(self, material_id: str) -> int:
        ids = self.ids_of_material(material_id)
        self.delete(sorted(ids))
        return len(ids)

    def search(self, vector: Sequence[float], k: int, material_ids: Sequence[str] | None = None) -> list[StoredChunk]:
        self.check_embedding_model()
        where = {"material_id": {"$in": list(material_ids)}} if material_ids else None
        result = self._collection.query(
            query_embeddings=[list(vector)], n_results=k, where=where,
            include=["documents", "metadatas", "distances"],
        )
        return [
            StoredChunk(id=id_, text=text, metadata=metadata, score=1.0 - distance)
            for id_, text, metadata, distance in zip(
                result["ids"][0], result["documents"][0], result["metadatas"][0], result["distances"][0], strict=True
            )
        ]

    def pages(self, where: dict | None = None, include: Sequence[str] = ("documents", "metadatas")
              ) -> Iterator[tuple[list[str], list[str] | None, list[dict] | None]]:
        """Every stored chunk (matching `where`), PAGE at a time: ids, texts, metadatas."""
        offset = 0
        while True:
            page = self._collection.get(where=where, limit=PAGE, offset=offset, include=list(include))
            if not page["ids"]:
                return
            yield page["ids"], page["documents"], page["metadatas"]
            offset += len(page["ids"])

    def all_chunks(self) -> tuple[list[str], list[str], list[dict]]:
        ids, texts, metadatas = [], [], []
        for page_ids, page_texts, page_metadatas in self.pages():
            ids += page_ids
            texts += page_texts
            metadatas += page_metadatas
        return ids, texts, metadatas

    def reset(self) -> None:
        self._client.delete_collection(self._name)
        self._collection = self._open()
