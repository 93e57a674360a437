"""Per-turn cost of conversation memory: our RedisSaver against InMemorySaver and the SQLite saver.

A 20-turn conversation (a student question and a ~600-character answer per turn, as the chat agent
stores them) runs through a LangGraph graph once without a checkpointer and once per saver, all in
this process; the overhead of each saver is its per-turn time minus the no-checkpointer time.
Usage: python bench/checkpoint.py [--conversations 10] [--turns 20]   (Redis at BENCH_REDIS_URL)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from common import percentile
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

from core.redis_checkpoint import RedisSaver

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
ANSWER = ("Para hipertrofia, faça de 6 a 12 repetições por série, com 3 a 5 séries por exercício e descanso de 60 a "
          "120 segundos [1]. Mantenha uma reserva de uma a três repetições e aumente a carga quando completar o topo "
          "da faixa com boa técnica [2]. ") * 3


class State(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    sources: list[dict]


def answer(state: State) -> dict:
    return {"messages": [AIMessage(ANSWER)], "sources": [{"source": "aula.pdf", "page": 3, "text": ANSWER[:300]}]}


builder = StateGraph(State)
builder.add_node("answer", answer)
builder.add_edge(START, "answer")
builder.add_edge("answer", END)


@asynccontextmanager
async def saver_named(name: str):
    if name == "none":
        yield None
    elif name == "InMemorySaver":
        yield InMemorySaver()
    elif name == "AsyncSqliteSaver":
        with tempfile.TemporaryDirectory() as folder:
            async with AsyncSqliteSaver.from_conn_string(str(Path(folder) / "checkpoints.sqlite3")) as saver:
                await saver.setup()
                yield saver
    else:
        prefix = f"bench-{uuid.uuid4().hex[:8]}"
        saver = RedisSaver.from_url(REDIS_URL, prefix=prefix)
        try:
            yield saver
        finally:
            keys = list(saver.client.scan_iter(f"{prefix}:*", count=1000))
            if keys:
                saver.client.delete(*keys)
            await saver.aclose()
            saver.close()


async def per_turn_ms(name: str, conversations: int, turns: int) -> list[float]:
    timings = []
    async with saver_named(name) as saver:
        graph = builder.compile(checkpointer=saver)
        for _ in range(conversations):
            config = {"configurable": {"thread_id": uuid.uuid4().hex}}
            history: list[AnyMessage] = []
            for turn in range(turns):
                question = HumanMessage(f"Pergunta {turn}: quantas repetições devo fazer para hipertrofia?")
                # Without a checkpointer the caller has to send the whole history every turn.
                graph_input = {"messages": [question]} if saver else {"messages": [*history, question]}
                started = time.perf_counter()
                state = await graph.ainvoke(graph_input, config)
                timings.append((time.perf_counter() - started) * 1000)
                history = state["messages"]
            assert len(history) == 2 * turns
    return timings


async def main(conversations: int, turns: int) -> None:
    names = ["none", "InMemorySaver", "AsyncSqliteSaver", "RedisSaver"]
    await per_turn_ms("none", 2, turns)  # warm-up: imports, graph compilation paths
    results = {name: await per_turn_ms(name, conversations, turns) for name in names}
    baseline = statistics.mean(results["none"])
    memory_overhead = statistics.mean(results["InMemorySaver"]) - baseline
    print(f"{conversations} conversations x {turns} turns, Redis at {REDIS_URL}")
    print(f"{'saver':<18}{'mean ms/turn':>14}{'p95':>8}{'overhead ms':>13}{'vs InMemory':>13}")
    for name, timings in results.items():
        mean = statistics.mean(timings)
        overhead = mean - baseline
        ratio = f"{overhead / memory_overhead:.2f}x" if name != "none" and memory_overhead > 0 else "-"
        print(f"{name:<18}{mean:>14.2f}{percentile(timings, 0.95):>8.2f}{overhead:>13.2f}{ratio:>13}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10)
    parser.add_argument("--turns", type=int, default=20)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.conversations, arguments.turns))
