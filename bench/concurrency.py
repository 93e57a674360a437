"""Answers in parallel: 1 against 16 against 64 questions at once, with an OpenAI-compatible model of known latency.

A deterministic OpenAI-compatible server that takes DELAY seconds per answer (tests/support/openai_server.py, on
loopback) and the RAG server with LLM_PROVIDER=openai against it run as processes. Distinct questions (the
query cache is off) are sent to POST /query and streamed from the lean `/ask/turn` stream (RemoteRunnable.astream,
as the API server reads answers): wall time against one question, time to first token p50/p95, failures. The
same is measured with LLM_MAX_CONCURRENCY=1, the behaviour before generation was parallel.

Usage: python bench/concurrency.py [--delay 1.0] [--counts 1 16 64]
       python bench/concurrency.py --model-url http://127.0.0.1:8080/v1 --local --counts 1 4 --max-tokens 60
       (the local model: one RAG process alone, against a llama.cpp `llama-server --parallel 4` serving its GGUF)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx
from common import AUTH, REPO, SERVICE_TOKEN, free_port, index_materials, percentile, start
from langserve import RemoteRunnable

from core.contracts import TURN_ROUTE, StreamEvent

TOPICS = ["proteína", "sono", "deload", "supino", "hipertrofia", "aquecimento", "força máxima", "recuperação"]


def question(number: int) -> str:
    return f"O que os materiais dizem sobre {TOPICS[number % len(TOPICS)]}? (pergunta {number})"


async def query(client: httpx.AsyncClient, number: int) -> tuple[float, float]:
    started = time.perf_counter()
    response = await client.post("/query", json={"question": question(number)})
    response.raise_for_status()
    took = time.perf_counter() - started
    return took, took


async def stream(runnable: RemoteRunnable, number: int) -> tuple[float, float]:
    """One answer streamed as the API server reads it: the lean `/ask/turn` stream through one RemoteRunnable
    kept for every call (creating one costs two TLS contexts, ~80 ms of CPU)."""
    started, first = time.perf_counter(), None
    async for chunk in runnable.astream({"question": question(number)}):
        if StreamEvent.TOKEN.value in chunk and first is None:
            first = time.perf_counter() - started
    if first is None:
        raise RuntimeError("no answer token arrived")
    return first, time.perf_counter() - started


async def burst(measure, count: int, offset: int) -> tuple[float, list[float], int]:
    started = time.perf_counter()
    results = await asyncio.gather(*(measure(offset + number) for number in range(count)), return_exceptions=True)
    wall = time.perf_counter() - started
    firsts = [result[0] for result in results if not isinstance(result, BaseException)]
    return wall, firsts, sum(isinstance(result, BaseException) for result in results)


async def measure_server(url: str, counts: list[int], label: str) -> None:
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    runnable = RemoteRunnable(f"{url}/ask{TURN_ROUTE}", timeout=300, headers=AUTH, client_kwargs={"limits": limits})
    async with httpx.AsyncClient(base_url=url, timeout=300, headers=AUTH, limits=limits) as client:
        await burst(lambda number: query(client, number), 2, 10_000)  # warm the models and connections
        offset = 0
        for name, measure in (("/query", lambda number: query(client, number)),
                              ("/ask stream", lambda number: stream(runnable, number))):
            one = None
            for count in counts:
                wall, firsts, failed = await burst(measure, count, offset)
                offset += count
                one = one or wall
                first = (f"first token p50 {percentile(firsts, 0.5):5.2f} s p95 {percentile(firsts, 0.95):5.2f} s"
                         if firsts else "no answer")
                print(f"{label:<22} {name:<12} {count:>3} at once: {wall:6.2f} s ({wall / one:5.2f}x one)  "
                      f"{first}  failed {failed}/{count}")
    await runnable.async_client.aclose()


async def main(delay: float, counts: list[int], model_url: str | None, local: bool, max_tokens: int) -> None:
    data = Path(tempfile.mkdtemp(prefix="dnaforca-concurrency-"))
    shutil.copytree(REPO / "examples" / "materials", data / "materials")
    model = None
    if model_url is None:
        model_port = free_port()
        model = start([sys.executable, "-m", "tests.support.openai_server", "--port", str(model_port), "--delay",
                       str(delay)], dict(os.environ), f"http://127.0.0.1:{model_port}", data / "model.log",
                      "/v1/models")
        model_url = f"http://127.0.0.1:{model_port}/v1"
        print(f"model: OpenAI-compatible fake, {delay:.1f} s per answer (first token after {delay / 5:.1f} s)")
    else:
        print(f"model: the OpenAI-compatible server at {model_url}, answers of at most {max_tokens} tokens")
    base = {**os.environ, "DATA_DIR": str(data), "LLM_PROVIDER": "openai", "EMBEDDINGS_PROVIDER": "local",
            "OPENAI_BASE_URL": model_url, "OPENAI_MODEL": "fake-echo", "LLM_MAX_TOKENS": str(max_tokens),
            "QUERY_CACHE_TTL_SECONDS": "0", "MIN_RELEVANCE": "0", "LOG_LEVEL": "WARNING",
            "RAG_SERVICE_TOKEN": SERVICE_TOKEN}
    base.pop("REDIS_URL", None)
    setups = [("LLM_MAX_CONCURRENCY=1", {"LLM_MAX_CONCURRENCY": "1"}), ("shipped defaults", {})]
    if local:
        setups.append(("local model in process", {"LLM_PROVIDER": "local"}))
    try:
        for label, extra in setups:
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            server = start([sys.executable, "-m", "uvicorn", "--factory", "servers.rag.app:create_app", "--port",
                            str(port), "--log-level", "warning"], {**base, **extra}, url, data / "rag.log")
            try:
                index_materials(url)
                await measure_server(url, counts, label)
            finally:
                server.terminate()
                server.wait(timeout=30)
    finally:
        if model is not None:
            model.terminate()
            model.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--delay", type=float, default=1.0, help="seconds per answer of the fake model")
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--model-url", help="a real OpenAI-compatible server instead of the fake (llama-server …/v1)")
    parser.add_argument("--local", action="store_true", help="also measure the bundled model inside the RAG server")
    parser.add_argument("--max-tokens", type=int, default=512, help="LLM_MAX_TOKENS of the RAG server")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.delay, arguments.counts, arguments.model_url, arguments.local, arguments.max_tokens))
