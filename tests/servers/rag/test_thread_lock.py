"""Turns of one conversation are serialized (no turn lost); other conversations run alongside."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.contracts import THREAD_HEADER
from tests.conftest import indexed_app

QUESTIONS = ["Quantas repetições para hipertrofia?", "E para força máxima?", "Quanto descanso entre séries?",
             "Quanta proteína por dia?", "Quantas horas de sono?"]


@pytest.fixture(params=["memory", "redis"])
def client(request, settings, embeddings):
    chosen = request.getfixturevalue("redis_settings") if request.param == "redis" else settings
    with indexed_app(chosen, embeddings) as client:
        yield client


def turn(client, thread: str, question: str) -> int:
    response = client.post("/rag/invoke", json={"input": {"question": question}}, headers={THREAD_HEADER: thread})
    return response.status_code




def test_concurrent_turns_on_one_thread_are_all_kept(client):
    with ThreadPoolExecutor(len(QUESTIONS)) as pool:
        statuses = list(pool.map(lambda question: turn(client, "aluno-5:conversa-1", question), QUESTIONS))
    assert statuses == [200] * len(QUESTIONS)
    # Each turn started from the checkpoint the one before it wrote, so the thread holds all of them.
    history = client.portal.call(_history, client.app.state.checkpointer, "aluno-5:conversa-1")
    assert len(history) == 2 * len(QUESTIONS)
    assert sorted(message.content for message in history if message.type == "human") == sorted(QUESTIONS)


async def _history(saver, thread: str) -> list:
    latest = await saver.aget_tuple({"configurable": {"thread_id": thread}})
    return latest.checkpoint["channel_values"]["messages"]


def test_a_turn_waits_while_its_conversation_is_busy_and_others_do_not(client):
    store = client.app.state.kv
    held, release, done = threading.Event(), threading.Event(), threading.Event()

    async def hold():
        async with store.thread_lock("aluno-6:conversa-1", lease_seconds=30, wait_seconds=5):
            held.set()
            while not release.is_set():
                await asyncio.sleep(0.02)

    holder = threading.Thread(target=lambda: client.portal.call(hold))
    holder.start()
    assert held.wait(5)
    waiting = threading.Thread(target=lambda: (turn(client, "aluno-6:conversa-1", QUESTIONS[0]), done.set()))
    waiting.start()
    assert turn(client, "aluno-6:conversa-2", QUESTIONS[0]) == 200  # another conversation is not held up
    assert not done.wait(0.5)  # the same conversation waits for the lock
    release.set()
    assert done.wait(30)
    holder.join()
    waiting.join()
