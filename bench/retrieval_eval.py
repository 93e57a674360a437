"""Passage-hit@1/3/5 on Pirá (pt-BR questions over machine-translated passages): dense, BM25 and hybrid.

Each distinct passage is one material; a hit means a top-k chunk comes from the question's own passage.
The index is kept under data/bench-pira, so a second run re-uses it (and shows idempotent ingestion).
"""

from __future__ import annotations

import hashlib
import json
import time

from common import CORPUS, REPO, fresh_services

DATA_DIR = REPO / "data" / "bench-pira"
KS = (1, 3, 5)


def load_questions(limit: int | None = None) -> list[dict]:
    """Pirá's dev rows (question_pt, passage_pt_machine_translated, …); the first `limit` when given."""
    rows = [json.loads(line) for line in (CORPUS / "pira_pt_eval.jsonl").open(encoding="utf-8")]
    return rows[:limit]


def index_passages(services, rows: list[dict]) -> dict[str, str]:
    """Each distinct passage as one material of `services`, indexed; returns passage → material id."""
    from knowledge.ingest import material_id_for

    passage_material: dict[str, str] = {}
    for passage in {row["passage_pt_machine_translated"] for row in rows}:
        name = f"pira-{hashlib.sha256(passage.encode()).hexdigest()[:12]}.txt"
        path = services.settings.materials_path / name
        if not path.exists():
            path.write_text(passage, encoding="utf-8")
        passage_material[passage] = material_id_for(name)
    services.ingestor.sync()
    return passage_material


def target_ranks(retriever, rows: list[dict], passage_material: dict[str, str], mode: str,
                 k: int = max(KS)) -> tuple[list[int | None], list[float]]:
    """Per question, the 1-based rank of the first chunk from its own passage in the top `k` (None: a miss),
    and the search latencies in ms."""
    ranks, latencies = [], []
    for row in rows:
        started = time.perf_counter()
        found = [passage.material_id for passage in retriever.search(row["question_pt"], k, mode=mode)]
        latencies.append((time.perf_counter() - started) * 1000)
        target = passage_material[row["passage_pt_machine_translated"]]
        ranks.append(found.index(target) + 1 if target in found else None)
    return ranks, latencies


def hit_at(ranks: list[int | None], k: int) -> float:
    return sum(rank is not None and rank <= k for rank in ranks) / len(ranks)


def main() -> None:
    from core.embeddings import LocalE5Embeddings

    rows = load_questions()
    services = fresh_services(LocalE5Embeddings(), DATA_DIR)
    started = time.perf_counter()
    passage_material = index_passages(services, rows)
    print(f"Pirá: {len(rows)} questions, {len(passage_material)} passages, {services.index.count()} chunks "
          f"(ingest {time.perf_counter() - started:.1f} s)")

    print(f"{'mode':<8} {'hit@1':>7} {'hit@3':>7} {'hit@5':>7} {'p50 ms':>8}")
    retriever = services.retriever
    for mode in ("dense", "bm25", "hybrid"):
        ranks, latencies = target_ranks(retriever, rows, passage_material, mode)
        latencies.sort()
        shipped = " (shipped)" if mode == services.settings.retrieval_mode else ""
        print(f"{mode:<8} " + " ".join(f"{hit_at(ranks, k):7.3f}" for k in KS)
              + f" {latencies[len(latencies) // 2]:8.1f}{shipped}")


if __name__ == "__main__":
    main()
