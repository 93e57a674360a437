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


def main() -> None:
    from core.embeddings import LocalE5Embeddings
    from knowledge.ingest import material_id_for
    from knowledge.retrieval import Retriever

    rows = [json.loads(line) for line in (CORPUS / "pira_pt_eval.jsonl").open(encoding="utf-8")]
    services = fresh_services(LocalE5Embeddings(), DATA_DIR)
    passage_material: dict[str, str] = {}
    for passage in {row["passage_pt_machine_translated"] for row in rows}:
        name = f"pira-{hashlib.sha256(passage.encode()).hexdigest()[:12]}.txt"
        path = services.settings.materials_path / name
        if not path.exists():
            path.write_text(passage, encoding="utf-8")
        passage_material[passage] = material_id_for(name)
    started = time.perf_counter()
    results = services.ingestor.sync()
    print(f"Pirá: {len(rows)} questions, {len(passage_material)} passages, {services.index.count()} chunks "
          f"(ingest {time.perf_counter() - started:.1f} s, {sum(r.status == 'indexed' for r in results)} new)")

    print(f"{'mode':<8} {'hit@1':>7} {'hit@3':>7} {'hit@5':>7} {'p50 ms':>8}")
    retriever = Retriever(services.index, services.catalog, services.embeddings)
    for mode in ("dense", "bm25", "hybrid"):
        hits = dict.fromkeys(KS, 0)
        latencies = []
        for row in rows:
            started = time.perf_counter()
            passages = retriever.search(row["question_pt"], max(KS), mode=mode)
            latencies.append((time.perf_counter() - started) * 1000)
            found = [passage.material_id for passage in passages]
            target = passage_material[row["passage_pt_machine_translated"]]
            for k in KS:
                hits[k] += target in found[:k]
        latencies.sort()
        shipped = " (shipped)" if mode == services.settings.retrieval_mode else ""
        print(f"{mode:<8} " + " ".join(f"{hits[k] / len(rows):7.3f}" for k in KS)
              + f" {latencies[len(latencies) // 2]:8.1f}{shipped}")


if __name__ == "__main__":
    main()
