"""Finding passages: dense (e5 in Chroma), BM25 (the lexical index, Portuguese stemming), or both fused by how far
each passage's score stands above the rest of its own ranking; and the evidence that the materials cover a question."""

from __future__ import annotations

import statistics
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from cachetools import LRUCache
from langchain_core.embeddings import Embeddings

from core.settings import RetrievalMode
from knowledge.catalog import Catalog
from knowledge.lexical import LexicalIndex
from knowledge.metrics import STAGE_SECONDS
from knowledge.relevance import UNRELATED_TEXTS
from knowledge.sentences import split_sentences
from knowledge.vectorstore import StoredChunk, VectorIndex

# Each ranker proposes this many candidates (k when larger): enough to measure its scores' spread for a question.
CANDIDATES = 50
# How much the share of the question's (idf-weighted) terms found by BM25 adds to the dense margin of relevance.
LEXICAL_WEIGHT = 0.1
# Relevance is judged on the sentences of this many best passages (whatever k is): a question the materials answer
# is close to one sentence, one they merely touch is close to a passage's subject only.
JUDGED_PASSAGES = 3
# The share of the best sentence's similarity in the dense evidence; the best passage's makes up the rest.
SENTENCE_SHARE = 0.75
# Sentence vectors kept in memory (about 1.5 KB each): the passages students ask about most are not embedded again.
SENTENCE_CACHE = 20_000


def standardized(scores: Sequence[float], unlisted: int = 0) -> tuple[list[float], float]:
    """Scores as standard deviations above their ranking's mean (a ranker's scores mean nothing across questions
    or rankers, but how far its best stand out of its own list does: fusion that needs no weight tuned), and the
    standard score of a chunk the ranking does not list. `unlisted` candidates scored 0 count in the spread: BM25
    lists only the chunks sharing a term with the question, so the ones it leaves out scored 0, not its last."""
    population = [*scores, *[0.0] * unlisted]
    if len(population) < 2:
        return [0.0] * len(scores), 0.0
    mean, spread = statistics.fmean(population), statistics.pstdev(population)
    standard = [(score - mean) / spread if spread else 0.0 for score in population]
    return standard[:len(scores)], standard[-1] if unlisted else min(standard, default=0.0)


@dataclass(frozen=True)
class Passage:
    id: str
    text: str
    metadata: dict
    score: float

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


@dataclass(frozen=True)
class Evidence:
    """How strongly the materials bear on a question, in numbers that mean the same on any corpus."""

    similarity: float  # the best dense similarity of a candidate passage
    sentence_similarity: float  # the best dense similarity of a sentence of the best passages
    unrelated_similarity: float  # the question's mean similarity to texts about unrelated subjects
    lexical_coverage: float  # best BM25 score over the score of a chunk holding every term of the question

    @property
    def relevance(self) -> float:
        dense = SENTENCE_SHARE * self.sentence_similarity + (1 - SENTENCE_SHARE) * self.similarity
        return dense - self.unrelated_similarity + LEXICAL_WEIGHT * self.lexical_coverage


class Retriever:
    def __init__(self, index: VectorIndex, lexical: LexicalIndex, catalog: Catalog, embeddings: Embeddings):
        self.index = index
        self.lexical = lexical
        self.catalog = catalog
        self.embeddings = embeddings
        self._sentence_vectors: LRUCache[str, np.ndarray] = LRUCache(SENTENCE_CACHE)
        self._sentence_lock = threading.Lock()

    @cached_property
    def _unrelated(self) -> np.ndarray:
        return np.array(self.embeddings.embed_documents(list(UNRELATED_TEXTS)))

    def dense(self, vector: list[float], k: int, material_ids: Sequence[str] | None = None) -> list[StoredChunk]:
        version = self.catalog.index_version()
        if version != self.index.version_seen:  # a worker process changed the index since we last looked
            self.index.reload(version)
        return self.index.search(vector, k, material_ids)

    def search(self, question: str, k: int, material_ids: Sequence[str] | None = None,
               mode: RetrievalMode = "hybrid") -> list[Passage]:
        return self._ranked(question, k, material_ids, mode)[0]

    def search_with_evidence(self, question: str, k: int, material_ids: Sequence[str] | None = None,
                             mode: RetrievalMode = "hybrid") -> tuple[list[Passage], Evidence]:
        """The `k` best passages and the evidence that they can answer (both rankers are consulted in any mode)."""
        ranked, vector, similarity, lexical_coverage = self._ranked(question, max(k, JUDGED_PASSAGES), material_ids,
                                                                    mode)
        sentences = [sentence for passage in ranked[:JUDGED_PASSAGES] for sentence in split_sentences(passage.text)]
        question_vector = np.array(vector)
        with STAGE_SECONDS.labels("judge").time():
            similarities = self._embedded_sentences(sentences) @ question_vector if sentences else np.zeros(0)
        evidence = Evidence(
            similarity=similarity,
            sentence_similarity=float(similarities.max(initial=0.0)),
            unrelated_similarity=float(np.mean(self._unrelated @ question_vector)),
            lexical_coverage=lexical_coverage,
        )
        return ranked[:k], evidence

    def _ranked(self, question: str, k: int, material_ids: Sequence[str] | None,
                mode: RetrievalMode) -> tuple[list[Passage], list[float], float, float]:
        """The `k` best passages, the question's vector, its best dense similarity and its lexical coverage (see
        `Evidence`)."""
        with STAGE_SECONDS.labels("embed").time():
            vector = self.embeddings.embed_query(question)
        candidates = max(k, CANDIDATES)
        dense = self.dense(vector, candidates, material_ids)
        lexical = self.lexical.search(question, candidates, material_ids)
        ideal = self.lexical.ideal_score(question)
        if mode == "dense":
            ranked = [(chunk, chunk.score) for chunk in dense]
        elif mode == "bm25":
            ranked = [(chunk, chunk.score) for chunk in lexical]
        else:
            ranked = fused(dense, lexical, candidates)
        passages = [Passage(chunk.id, chunk.text, chunk.metadata, score) for chunk, score in ranked[:k]]
        return (passages, vector, max((chunk.score for chunk in dense), default=0.0),
                lexical[0].score / ideal if lexical and ideal else 0.0)

    def _embedded_sentences(self, sentences: list[str]) -> np.ndarray:
        """The sentences' vectors, from the cache where it has them."""
        with self._sentence_lock:
            known = {sentence: self._sentence_vectors.get(sentence) for sentence in sentences}
        missing = [sentence for sentence, vector in known.items() if vector is None]
        if missing:
            vectors = self.embeddings.embed_documents(missing)
            with self._sentence_lock:
                for sentence, vector in zip(missing, vectors, strict=True):
                    known[sentence] = self._sentence_vectors[sentence] = np.array(vector, dtype=np.float32)
        return np.array([known[sentence] for sentence in sentences])


def fused(dense: list[StoredChunk], lexical: list[StoredChunk], candidates: int) -> list[tuple[StoredChunk, float]]:
    """Chunks by the mean of their standardized scores over both rankings; a chunk missing from the dense ranking
    counts as its last candidate, one missing from BM25's as a chunk sharing no term with the question."""
    chunks = {chunk.id: chunk for ranking in (dense, lexical) for chunk in ranking}
    total = dict.fromkeys(chunks, 0.0)
    for ranking, unlisted in ((dense, 0), (lexical, max(candidates - len(lexical), 0))):
        standard, floor = standardized([chunk.score for chunk in ranking], unlisted)
        scores = dict(zip((chunk.id for chunk in ranking), standard, strict=True))
        for id_ in chunks:
            total[id_] += scores.get(id_, floor) / 2
    return [(chunks[id_], total[id_]) for id_ in sorted(total, key=total.get, reverse=True)]
