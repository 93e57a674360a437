"""Retrieval latency (query embedding + search, then with the relevance gate's evidence) over an index of at
least 10,000 chunks.

The chunks are the Pirá passages (embedded for real by bench/retrieval_eval.py's index, or here) and
variants of them: sentences rotated, vectors jittered and re-normalised. Latency depends on the
number and size of vectors and on the BM25 vocabulary, which these variants keep realistic.
"""

from __future__ import annotations

import json
import time

import numpy as np
from common import CORPUS, REPO, fresh_services, percentile

TARGET_CHUNKS = 10_000
QUERIES = 300


def build_index(services, source) -> None:
    ids, texts, metadatas = source.index.all_chunks()
    vectors = np.array(source.index._collection.get(ids=ids, include=["embeddings"])["embeddings"])
    rng = np.random.default_rng(7)
    variant = 0
    while services.index.count() < TARGET_CHUNKS:
        variant += 1
        jitter = vectors + rng.normal(0, 0.02, vectors.shape)
        jitter /= np.linalg.norm(jitter, axis=1, keepdims=True)
        rotated = []
        for text in texts:
            sentences = text.split(". ")
            shift = variant % len(sentences)
            rotated.append(". ".join(sentences[shift:] + sentences[:shift]))
        batch_ids = [f"{chunk_id}-v{variant}" for chunk_id in ids]
        batch_meta = [{**metadata, "material_id": f"{metadata['material_id']}-v{variant}"} for metadata in metadatas]
        for start in range(0, len(ids), 1000):
            end = start + 1000
            services.index.add(batch_ids[start:end], rotated[start:end], jitter[start:end].tolist(),
                               batch_meta[start:end])
    services.catalog.bump_index_version()


def main() -> None:
    from core.embeddings import LocalE5Embeddings

    embeddings = LocalE5Embeddings()
    source = fresh_services(embeddings, REPO / "data" / "bench-pira")
    if source.index.count() == 0:
        raise SystemExit("Run bench/retrieval_eval.py first: it builds the real Pirá index this bench extends.")
    services = fresh_services(embeddings)
    build_index(services, source)
    questions = [json.loads(line)["question_pt"] for line in (CORPUS / "pira_pt_eval.jsonl").open()][:QUERIES]
    print(f"index: {services.index.count()} chunks, {len(questions)} queries, k=4")
    retriever = services.retriever

    def latencies(search, **options) -> str:
        """p50 and p95 of `search` over the questions, in ms."""
        taken = []
        for question in questions:
            started = time.perf_counter()
            search(question, 4, **options)
            taken.append((time.perf_counter() - started) * 1000)
        return f"p50 {percentile(taken, 0.5):6.1f} ms   p95 {percentile(taken, 0.95):6.1f} ms"

    for mode in ("dense", "bm25", "hybrid"):
        retriever.search("aquecimento", 4, mode=mode)  # build the BM25 index and warm caches outside the timings
        shipped = " (shipped; target p50 <= 40 ms)" if mode == services.settings.retrieval_mode else ""
        print(f"  {mode:<7} {latencies(retriever.search, mode=mode)}{shipped}")
    for label in ("sentences embedded", "sentences cached"):  # the second pass finds every sentence vector cached
        print(f"  hybrid + relevance evidence, {label}: {latencies(retriever.search_with_evidence)}")
    started = time.perf_counter()
    for question in questions:
        embeddings.embed_query(question)
    print(f"  of which query embedding alone: {(time.perf_counter() - started) * 1000 / len(questions):.1f} ms mean")


if __name__ == "__main__":
    main()
