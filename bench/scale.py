"""Retrieval at scale: N synthetic chunks (150 Portuguese words, generated 384-d vectors) in the embedded Chroma and
the lexical index, through the product's own VectorIndex, LexicalIndex and Retriever.

Prints, per size: load time, lexical-index build time, query p50/p95 (dense, lexical, hybrid; the query vector is
generated, so no embedding time), the first query after a material is added and the time until it is searchable,
and what a fresh RAG process pays (start-up, first query, memory of the lexical index), against the in-memory bm25s
index the product used before (rebuilt from Chroma in every process after every change), measured in the same run.

    .venv/bin/python bench/scale.py                  # 10,000 and 100,000 chunks
    .venv/bin/python bench/scale.py --sizes 20000    # other sizes
    .venv/bin/python bench/scale.py --big            # and 1,000,000
    .venv/bin/python bench/scale.py --lexical-url postgresql://…/db   # the lexical index in PostgreSQL (emptied first)
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
from common import CORPUS, REPO, fresh_services, percentile

from tests.support.embeddings import HashEmbeddings

DIMENSION = 384  # multilingual-e5-small's
WORDS_PER_CHUNK = 150
CHUNKS_PER_MATERIAL = 100
BATCH = 1000
QUERIES = 200
# Added after the load: one by the measuring process itself (an inline worker), one by another process (a worker).
NEW_MATERIALS = {
    "nova-aula.txt": ("O agachamento búlgaro unilateral fortalece glúteos e quadríceps com cargas moderadas.",
                      "agachamento búlgaro unilateral"),
    "aula-do-worker.txt": ("A remada cavalinho com pegada neutra trabalha o dorsal e o romboide.",
                           "remada cavalinho romboide"),
}


def questions() -> list[str]:
    rows = (CORPUS / "pira_pt_eval.jsonl").open(encoding="utf-8")
    return [json.loads(line)["question_pt"] for line in rows][:QUERIES]


def synthetic_batches(count: int, seed: int = 7):
    """Chunks of 150 consecutive words from the Pirá passages (a real Portuguese vocabulary and word frequencies)."""
    words = " ".join(json.loads(line)["passage_pt_machine_translated"]
                     for line in (CORPUS / "pira_pt_eval.jsonl").open(encoding="utf-8")).split()
    generator, vectors = random.Random(seed), np.random.default_rng(seed)
    for start in range(0, count, BATCH):
        size = min(BATCH, count - start)
        offsets = [generator.randrange(len(words) - WORDS_PER_CHUNK) for _ in range(size)]
        texts = [" ".join(words[offset : offset + WORDS_PER_CHUNK]) for offset in offsets]
        batch_vectors = vectors.normal(size=(size, DIMENSION)).astype(np.float32)
        batch_vectors /= np.linalg.norm(batch_vectors, axis=1, keepdims=True)
        ids = [f"synthetic-{start + number}" for number in range(size)]
        metadatas = [{"material_id": f"synthetic-{(start + number) // CHUNKS_PER_MATERIAL}", "source": "synthetic.txt"}
                     for number in range(size)]
        yield ids, texts, batch_vectors, metadatas


def timed(function, *args, **kwargs) -> float:
    started = time.perf_counter()
    function(*args, **kwargs)
    return (time.perf_counter() - started) * 1000


def open_services(data_dir: Path, lexical_url: str | None):
    return fresh_services(HashEmbeddings(DIMENSION), data_dir, lexical_index_url=lexical_url)


def reader(data_dir: Path, lexical_url: str | None, baseline: bool) -> dict:
    """A fresh process opening the index as a RAG server does (`baseline`: plus the old in-memory bm25s index)."""
    started = time.perf_counter()
    services = open_services(data_dir, lexical_url)
    result = {"startup_s": time.perf_counter() - started}
    asked = questions()
    result["first_query_ms"] = timed(services.retriever.search, asked[0], 4, mode="dense")
    rss = psutil.Process().memory_info().rss  # with Chroma's vectors loaded: what follows is the lexical index's
    if baseline:
        import bm25s
        import Stemmer

        started = time.perf_counter()
        ids, texts, metadatas = services.index.all_chunks()
        stemmer = Stemmer.Stemmer("portuguese")
        bm25 = bm25s.BM25()
        bm25.index(bm25s.tokenize(texts, stopwords="pt", stemmer=stemmer, show_progress=False), show_progress=False)
        result["rebuild_s"] = time.perf_counter() - started
        tokenized = [bm25s.tokenize([question], stopwords="pt", stemmer=stemmer, return_ids=False,
                                    show_progress=False)[0] for question in asked]
        latencies = [timed(bm25.get_scores, [token for token in query if token in bm25.vocab_dict])
                     for query in tokenized]
    else:
        latencies = [timed(services.retriever.search, question, 4, mode="bm25") for question in asked]
    result["lexical_p50_ms"] = percentile(latencies, 0.5)
    result["rss_growth_mb"] = (psutil.Process().memory_info().rss - rss) / 2**20
    if not baseline:
        result.update(after_another_process_adds(services, data_dir, lexical_url, "aula-do-worker.txt"))
    return result


def add_material(services, name: str) -> str:
    material = services.settings.materials_path / name
    material.write_text(NEW_MATERIALS[name][0], encoding="utf-8")
    [result] = services.ingestor.ingest([material])
    return result.material_id


def lexical_option(lexical_url: str | None) -> list[str]:
    return ["--lexical-url", lexical_url] if lexical_url else []


def after_another_process_adds(services, data_dir: Path, lexical_url: str | None, name: str) -> dict:
    """Another process (a worker) indexes a material: this one's first query, and when the material is found."""
    command = [sys.executable, __file__, "--writer", str(data_dir), name, *lexical_option(lexical_url)]
    material_id = subprocess.run(command, cwd=REPO, check=True, capture_output=True, text=True).stdout.split()[-1]
    written = time.perf_counter()
    first_ms = timed(services.retriever.search, NEW_MATERIALS[name][1], 4)
    while material_id not in [passage.material_id for passage in services.retriever.search(NEW_MATERIALS[name][1], 4)]:
        time.sleep(0.01)
    return {"worker_first_query_ms": first_ms, "worker_found_ms": (time.perf_counter() - written) * 1000}


def run_reader(data_dir: Path, lexical_url: str | None, baseline: bool) -> dict:
    command = [sys.executable, __file__, "--reader", str(data_dir), *lexical_option(lexical_url)]
    command += ["--baseline"] if baseline else []
    output = subprocess.run(command, cwd=REPO, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def measure(size: int, lexical_url: str | None, baseline: bool) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix=f"dnaforca-scale-{size}-"))
    services = open_services(data_dir, lexical_url)
    services.lexical.reset()
    vector_ms = lexical_ms = 0.0
    for ids, texts, vectors, metadatas in synthetic_batches(size):
        vector_ms += timed(services.index.add, ids, texts, vectors, metadatas)
        lexical_ms += timed(services.lexical.add, ids, texts, metadatas)
    services.catalog.bump_index_version()
    print(f"\n{size:,} chunks: load {vector_ms / 1000:.1f} s into Chroma, lexical index built incrementally in "
          f"{lexical_ms / 1000:.1f} s ({size / lexical_ms * 1000:,.0f} chunks/s)")

    asked = questions()
    for mode, label in (("dense", "dense"), ("bm25", "lexical"), ("hybrid", "hybrid")):
        services.retriever.search(asked[0], 4, mode=mode)
        latencies = [timed(services.retriever.search, question, 4, mode=mode) for question in asked]
        print(f"  {label:<8} p50 {percentile(latencies, 0.5):6.1f} ms   p95 {percentile(latencies, 0.95):6.1f} ms")

    name = "nova-aula.txt"
    uploaded = time.perf_counter()
    material_id = add_material(services, name)
    first_ms = timed(services.retriever.search, NEW_MATERIALS[name][1], 4, mode="hybrid")
    found = [passage.material_id for passage in services.retriever.search(NEW_MATERIALS[name][1], 4)]
    searchable_s = time.perf_counter() - uploaded
    assert material_id in found, "the new material was not found"
    print(f"  after adding one material in this process: first hybrid query {first_ms:.1f} ms, searchable "
          f"{searchable_s:.2f} s after the upload began (parse, embed, index)")
    print(f"  this process: RSS {psutil.Process().memory_info().rss / 2**20:,.0f} MB")

    fresh = run_reader(data_dir, lexical_url, baseline=False)
    print(f"  a new RAG process: start-up {fresh['startup_s']:.2f} s (nothing rebuilt), first (dense) query "
          f"{fresh['first_query_ms']:.1f} ms, lexical p50 {fresh['lexical_p50_ms']:.2f} ms, memory of the lexical "
          f"index after {QUERIES} queries {fresh['rss_growth_mb']:.0f} MB")
    print(f"  when another process (a worker) adds a material: first hybrid query here "
          f"{fresh['worker_first_query_ms']:.1f} ms (it re-reads the embedded Chroma), material found "
          f"{fresh['worker_found_ms']:.0f} ms after the worker committed")
    if baseline:
        old = run_reader(data_dir, lexical_url, baseline=True)
        print(f"  before (in-memory bm25s, per process): rebuild {old['rebuild_s']:.1f} s at start and inside the "
              f"first query after every change, scoring p50 {old['lexical_p50_ms']:.2f} ms, memory "
              f"{old['rss_growth_mb']:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--big", action="store_true", help="also 1,000,000 chunks")
    parser.add_argument("--no-baseline", action="store_true", help="skip the in-memory bm25s comparison")
    parser.add_argument("--lexical-url", help="LEXICAL_INDEX_URL to measure (default: SQLite in the run's DATA_DIR)")
    parser.add_argument("--reader", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--writer", nargs=2, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.writer:
        data_dir, name = arguments.writer
        print(add_material(open_services(Path(data_dir), arguments.lexical_url), name))
        return
    if arguments.reader:
        print(json.dumps(reader(arguments.reader, arguments.lexical_url, arguments.baseline)))
        return
    print(f"{WORDS_PER_CHUNK}-word chunks, {DIMENSION}-d generated vectors, {QUERIES} Pirá questions, k=4, lexical "
          f"index in {'PostgreSQL' if arguments.lexical_url else 'SQLite'}")
    for size in arguments.sizes + ([1_000_000] if arguments.big else []):
        measure(size, arguments.lexical_url, baseline=not arguments.no_baseline)


if __name__ == "__main__":
    main()
