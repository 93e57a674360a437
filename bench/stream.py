"""Streaming through the API server against calling the RAG server directly.

A RAG server whose chat model emits one word every PACE_MS ms (bench/paced_rag.py) and an API server
in front of it run as uvicorn processes. The same question is streamed (1) directly from the RAG
server's lean /ask/turn stream with RemoteRunnable.astream, as the API server does, and (2) through the
API server's POST /chat as SSE. Time to first token and total time, at 1 and at 50 concurrent streams;
the overhead is (2) - (1). Usage: python bench/stream.py [--rounds 20] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from common import AUTH, REPO, SERVICE_TOKEN, free_port, index_materials, percentile, start
from langserve import RemoteRunnable

from core.contracts import TURN_ROUTE, StreamEvent

QUESTION = "Quantas repetições para hipertrofia?"


async def direct(runnable: RemoteRunnable) -> tuple[float, float]:
    """The RAG server's lean stream through one RemoteRunnable kept for every call, as the API server keeps it."""
    started, first = time.perf_counter(), None
    async for chunk in runnable.astream({"question": QUESTION}):
        if StreamEvent.TOKEN.value in chunk and first is None:
            first = time.perf_counter()
    return first - started, time.perf_counter() - started


async def through_api(client: httpx.AsyncClient) -> tuple[float, float]:
    started, first, done = time.perf_counter(), None, False
    async with client.stream("POST", "/chat", json={"message": QUESTION},
                             headers={"Accept": "text/event-stream"}) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if line == "event: token" and first is None:
                first = time.perf_counter()
            elif line == "event: error":
                raise RuntimeError("the stream ended with an error event")
            done = done or line == "event: done"
    if not done:
        raise RuntimeError("the stream ended without a done event")
    return first - started, time.perf_counter() - started


async def run(measure, count: int, concurrent: bool) -> tuple[list[float], list[float], int]:
    if concurrent:
        results = await asyncio.gather(*(measure() for _ in range(count)), return_exceptions=True)
    else:
        results = [await measure() for _ in range(count)]
    good = [result for result in results if not isinstance(result, BaseException)]
    return [first for first, _ in good], [total for _, total in good], count - len(good)


def report(label: str, direct_result, api_result) -> None:
    (d_first, d_total, d_failed), (a_first, a_total, a_failed) = direct_result, api_result
    for name, d_values, a_values in (("first token", d_first, a_first), ("total", d_total, a_total)):
        d50, a50 = percentile(d_values, 0.5) * 1000, percentile(a_values, 0.5) * 1000
        d95, a95 = percentile(d_values, 0.95) * 1000, percentile(a_values, 0.95) * 1000
        print(f"{label:>12} {name:>11}: direct p50 {d50:7.1f} ms p95 {d95:7.1f} | via API p50 {a50:7.1f} ms "
              f"p95 {a95:7.1f} | overhead p50 {a50 - d50:+6.1f} ms")
    print(f"{label:>12} failed streams: direct {d_failed}, via API {a_failed}")


async def main(rounds: int, concurrency: int) -> None:
    data = Path(tempfile.mkdtemp(prefix="dnaforca-stream-"))
    shutil.copytree(REPO / "examples" / "materials", data / "rag" / "materials")
    rag_port, api_port = free_port(), free_port()
    rag_url, api_url = f"http://127.0.0.1:{rag_port}", f"http://127.0.0.1:{api_port}"
    base = {**os.environ, "LLM_PROVIDER": "extractive", "EMBEDDINGS_PROVIDER": "local", "QUERY_CACHE_TTL_SECONDS": "0",
            "ANONYMOUS_CHAT_PER_MINUTE": "100000", "LOG_LEVEL": "WARNING", "RAG_SERVICE_TOKEN": SERVICE_TOKEN}
    base.pop("REDIS_URL", None)
    rag = start([sys.executable, "bench/paced_rag.py", str(rag_port)], {**base, "DATA_DIR": str(data / "rag")},
                rag_url, data / "rag.log")
    api_environment = {**base, "DATA_DIR": str(data / "api"), "RAG_SERVER_URL": rag_url}
    subprocess.run([sys.executable, "-m", "servers.cli", "migrate"], cwd=REPO, env=api_environment, check=True)
    api = start([sys.executable, "-m", "uvicorn", "servers.api.app:create_app", "--factory", "--port", str(api_port),
                 "--log-level", "warning"], api_environment, api_url, data / "api.log")
    try:
        index_materials(rag_url)
        print(f"paced model: {len(__import__('paced_rag').ANSWER)} words, {os.environ.get('PACE_MS', '20')} ms each")
        limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2)
        runnable = RemoteRunnable(f"{rag_url}/ask{TURN_ROUTE}", timeout=120, headers=AUTH,
                                  client_kwargs={"limits": limits})
        async with httpx.AsyncClient(base_url=api_url, timeout=120, limits=limits) as client:
            await run(lambda: direct(runnable), 3, False)  # warm both paths
            await run(lambda: through_api(client), 3, False)
            report("1 stream", await run(lambda: direct(runnable), rounds, False),
                   await run(lambda: through_api(client), rounds, False))
            report(f"{concurrency} streams", await run(lambda: direct(runnable), concurrency, True),
                   await run(lambda: through_api(client), concurrency, True))
    finally:
        for process in (api, rag):
            process.terminate()
            process.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=50)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rounds, arguments.concurrency))
