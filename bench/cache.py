"""Cached against uncached `/query` latency on the RAG server (Redis query cache).

The sample materials are indexed in a throw-away DATA_DIR by a RAG server started under uvicorn; each
question is asked once (a miss: embed, retrieve, answer) and then again (a hit) over HTTP with a
keep-alive client, as the API server calls it. The extractive answerer
is the default, the cheapest miss there is; `--llm local` adds the bundled chat model's cost to misses.
Usage: python bench/cache.py [--llm extractive|local] [--rounds 3]   (Redis at BENCH_REDIS_URL)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import redis
from common import AUTH, REPO, SERVICE_TOKEN, free_port, index_materials, percentile, start

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
QUESTIONS = [
    "Quantas repetições fazer para hipertrofia?",
    "Quanta proteína devo comer por dia?",
    "Quanto tempo devo dormir por noite?",
    "Como posicionar as escápulas no supino?",
    "O que é deload?",
    "Quantas séries por grupo muscular na semana?",
    "Quanto tempo de descanso entre séries?",
    "Como progredir a carga no agachamento?",
    "O que comer antes do treino?",
    "Qual a pegada correta no supino?",
]


def measure(client, questions: list[str]) -> tuple[list[float], list[bool]]:
    latencies, cached = [], []
    for question in questions:
        started = time.perf_counter()
        response = client.post("/query", json={"question": question})
        latencies.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
        cached.append(response.json()["cached"])
    return latencies, cached


def main(llm: str, rounds: int) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="dnaforca-bench-cache-"))
    shutil.copytree(REPO / "examples" / "materials", data_dir / "materials")
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    environment = {**os.environ, "DATA_DIR": str(data_dir), "REDIS_URL": REDIS_URL, "REDIS_PREFIX": prefix,
                   "LLM_PROVIDER": llm, "LLM_MAX_TOKENS": "80", "LOG_LEVEL": "WARNING",
                   "RAG_SERVICE_TOKEN": SERVICE_TOKEN}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start([sys.executable, "-m", "uvicorn", "--factory", "servers.rag.app:create_app", "--port", str(port),
                    "--log-level", "warning"], environment, url, data_dir / "server.log")
    try:
        index_materials(url)
        with httpx.Client(base_url=url, timeout=300, headers=AUTH) as client:
            client.post("/query", json={"question": "aquecimento"})  # warm-up: models loaded, index opened
            misses, hits = [], []
            for round_number in range(rounds):
                # A new wording per round (cache keys ignore case and closing punctuation, not words).
                questions = [f"{question[:-1]} (rodada {round_number})?" for question in QUESTIONS]
                latencies, cached = measure(client, questions)
                assert not any(cached)
                misses += latencies
                latencies, cached = measure(client, questions)
                assert all(cached)
                hits += latencies
            stats = client.get("/stats").json()["cache"]
    finally:
        server.terminate()
        server.wait(timeout=30)
        store = redis.Redis.from_url(REDIS_URL)
        keys = list(store.scan_iter(f"{prefix}:*", count=1000))
        if keys:
            store.delete(*keys)
        shutil.rmtree(data_dir, ignore_errors=True)

    miss_p50, hit_p50 = statistics.median(misses), statistics.median(hits)
    print(f"/query over the samples, LLM_PROVIDER={llm}, query cache on Redis at {REDIS_URL}")
    print(f"{'':<10}{'n':>5}{'p50 ms':>10}{'p95 ms':>10}")
    print(f"{'uncached':<10}{len(misses):>5}{miss_p50:>10.2f}{percentile(misses, 0.95):>10.2f}")
    print(f"{'cached':<10}{len(hits):>5}{hit_p50:>10.2f}{percentile(hits, 0.95):>10.2f}")
    print(f"a hit is {miss_p50 / hit_p50:.1f}x faster (p50); /stats: hits {stats['hits']}, misses {stats['misses']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm", choices=["extractive", "local"], default="extractive")
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    main(arguments.llm, arguments.rounds)
