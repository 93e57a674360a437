"""Finding passages: dense (e5 in Chroma), BM25 (bm25s, Portuguese stemming), or both fused by rank."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import bm25s
import numpy as np
import Stemmer
from langchain_core.embeddings import Embeddings

from core.settings import RetrievalMode
from knowledge.catalog import Catalog
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


class Bm25Index:
    """A bm25s index over every chunk, rebuilt when the catalogue's index version moves."""

    def __init__(self, index: VectorIndex, catalog: Catalog):
        self._index = index
        self._catalog = catalog
        self._stemmer = Stemmer.Stemmer("portuguese")
        self._lock = threading.Lock()
        self._version = -1
        self._ids: list[str] = []
        self._texts: list[str] = []
        self._metadatas: list[dict] = []
        self._material_ids = np.array([], dtype=object)
        self._bm25: bm25s.BM25 | None = None

    def _tokenize(self, texts: list[str]):
        return bm25s.tokenize(texts, stopwords="pt", stemmer=self._stemmer, show_progress=False)

    def _refresh(self) -> None:
        version = self._catalog.index_version()
        if version == self._version:
            return
        with self._lock:
            if version == self._version:
                return
            ids, texts, metadatas = self._index.all_chunks()
            bm25 = None
            if ids:
                bm25 = bm25s.BM25()
                bm25.index(self._tokenize(texts), show_progress=False)
            self._ids, self._texts, self._metadatas, self._bm25 = ids, texts, metadatas, bm25
            self._material_ids = np.array([metadata.get("material_id") for metadata in metadatas], dtype=object)
            self._version = version

    def search(self, question: str, k: int, material_ids: Sequence[str] | None = None) -> list[StoredChunk]:
        self._refresh()
        if self._bm25 is None:
            return []
        query = bm25s.tokenize([question], stopwords="pt", stemmer=self._stemmer, return_ids=False,
                               show_progress=False)[0]
        query = [token for token in query if token in self._bm25.vocab_dict]
        if not query:
            return []
        scores = self._bm25.get_scores(query)
        if material_ids:
            scores = np.where(np.isin(self._material_ids, list(material_ids)), scores, 0.0)
        top = np.argsort(-scores)[:k]
        return [
            StoredChunk(self._ids[i], self._texts[i], self._metadatas[i], float(scores[i]))
            for i in top
            if scores[i] > 0
        ]


class Retriever:
    def __init__(self, index: VectorIndex, catalog: Catalog, embeddings: Embeddings):
        self.index = index
        self.catalog = catalog
        self.embeddings = embeddings
        self.bm25 = Bm25Index(index, catalog)

    def dense(self, question: str, k: int, material_ids: Sequence[str] | None = None) -> list[StoredChunk]:
        version = self.catalog.index_version()
        if version != self.index.version_seen:  # a worker process changed the index since we last looked
            self.index.reload(version)
        return self.index.search(self.embeddings.embed_query(question), k, material_ids)

    def search(self, question: str, k: int, material_ids: Sequence[str] | None = None,
               mode: RetrievalMode = "hybrid") -> list[Passage]:
        if mode == "dense":
            return [Passage(c.id, c.text, c.metadata, c.score, c.score) for c in self.dense(question, k, material_ids)]
        if mode == "bm25":
            return [Passage(c.id, c.text, c.metadata, c.score) for c in self.bm25.search(question, k, material_ids)]
        candidates = k * CANDIDATES_PER_K
        dense = self.dense(question, candidates, material_ids)
        lexical = self.bm25.search(question, candidates, material_ids)
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
