"""Finding passages: dense (e5 in Chroma), BM25 (the lexical index, Portuguese stemming), or both fused by rank."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from langchain_core.embeddings import Embeddings

from core.settings import RetrievalMode
from knowledge.catalog import Catalog
from knowledge.lexical import LexicalIndex
from knowledge.metrics import STAGE_SECONDS
from knowledge.vectorstore import StoredChunk, VectorIndex

# Reciprocal-rank-fusion constant; 60 is the value of the original paper and works without tuning.
RRF_K = 60
# Each ranker proposes this many times k candidates to the fusion.
CANDIDATES_PER_K = 4


@dataclass(frozen=True)
class Passage:
    id: str
    text: str
    metadata: dict
    score: float
    similarity: float | None = None  # dense cosine similarity when known, used to judge relevance

    @property
    def material_id(self) -> str:
        return self.metadata.get("material_id", "")

    @property
    def source(self) -> str:
        return self.metadata.get("source", "")

    @property
    def page(self) -> int | None:
        return self.metadata.get("page")

    @property
    def location(self) -> str:
        return self.metadata.get("location", "")

    @property
    def url(self) -> str | None:
        """The material's own web page (a Google Drive file), when it has one."""
        return self.metadata.get("url")


class Retriever:
    def __init__(self, index: VectorIndex, lexical: LexicalIndex, catalog: Catalog, embeddings: Embeddings):
        self.index = index
        self.lexical = lexical
        self.catalog = catalog
        self.embeddings = embeddings

    def dense(self, question: str, k: int, material_ids: Sequence[str] | None = None) -> list[StoredChunk]:
        version = self.catalog.index_version()
        if version != self.index.version_seen:  # a worker process changed the index since we last looked
            self.index.reload(version)
        with STAGE_SECONDS.labels("embed").time():
            vector = self.embeddings.embed_query(question)
        return self.index.search(vector, k, material_ids)

    def search(self, question: str, k: int, material_ids: Sequence[str] | None = None,
               mode: RetrievalMode = "hybrid") -> list[Passage]:
        if mode == "dense":
            return [Passage(c.id, c.text, c.metadata, c.score, c.score) for c in self.dense(question, k, material_ids)]
        if mode == "bm25":
            return [Passage(c.id, c.text, c.metadata, c.score) for c in self.lexical.search(question, k, material_ids)]
        candidates = k * CANDIDATES_PER_K
        dense = self.dense(question, candidates, material_ids)
        lexical = self.lexical.search(question, candidates, material_ids)
        fused: dict[str, float] = {}
        chunks: dict[str, StoredChunk] = {}
        for ranking in (dense, lexical):
            for rank, chunk in enumerate(ranking):
                fused[chunk.id] = fused.get(chunk.id, 0.0) + 1.0 / (RRF_K + rank + 1)
                chunks.setdefault(chunk.id, chunk)
        similarity = {chunk.id: chunk.score for chunk in dense}
        best = sorted(fused, key=fused.get, reverse=True)[:k]
        return [
            Passage(id_, chunks[id_].text, chunks[id_].metadata, fused[id_], similarity.get(id_))
            for id_ in best
        ]
