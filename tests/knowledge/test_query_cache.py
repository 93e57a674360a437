"""The query cache: same question on the same index is answered once; any index change invalidates it."""

from __future__ import annotations

import pytest

from core.contracts import THREAD_HEADER
from knowledge.cache import QueryCache, normalize_question
from tests.conftest import indexed_app

QUESTION = "Quanta proteína devo comer por dia?"


def test_normalization_ignores_case_spacing_and_closing_punctuation():
    assert normalize_question("  Quanta  PROTEÍNA devo comer por dia ?! ") == normalize_question(QUESTION)
    assert normalize_question("Quanta proteína devo comer por semana?") != normalize_question(QUESTION)


def test_key_depends_on_materials_configuration_index_version_and_setup(settings):
    version = [7]
    cache = QueryCache(settings, lambda: {"llm": "a"}, lambda: version[0])
    configuration = {"k": 4, "answer_prompt": "Responda. {context}"}
    key = cache.key(QUESTION, ["m2", "m1"], configuration)
    assert key == cache.key(QUESTION.upper(), ["m1", "m2"], dict(reversed(configuration.items())))
    variants = {
        key,
        cache.key(QUESTION, ["m1"], configuration),
        cache.key(QUESTION, ["m2", "m1"], {**configuration, "k": 3}),
        cache.key(QUESTION, ["m2", "m1"], {**configuration, "answer_prompt": "Outra. {context}"}),
        QueryCache(settings, lambda: {"llm": "b"}, lambda: version[0]).key(QUESTION, ["m2", "m1"], configuration),
    }
    version[0] = 8
    variants.add(cache.key(QUESTION, ["m2", "m1"], configuration))
    assert len(variants) == 6


@pytest.fixture(params=["memory", "redis", "redis-cluster"])
def backend(request):
    fixture = {"memory": "settings", "redis": "redis_settings", "redis-cluster": "redis_cluster_settings"}
    return request.getfixturevalue(fixture[request.param])


@pytest.fixture
def client(backend, embeddings):
    with indexed_app(backend, embeddings) as client:
        yield client


def ask(client, question=QUESTION, **extra):
    response = client.post("/query", json={"question": question, **extra})
    assert response.status_code == 200
    return response.json()


def test_identical_queries_hit_the_cache_and_stats_count_them(client, backend):
    first, second, third = ask(client), ask(client, "quanta proteína devo comer por dia"), ask(client, config={"k": 2})
    assert (first["cached"], second["cached"], third["cached"]) == (False, True, False)
    assert second["answer"] == first["answer"] and second["sources"] == first["sources"]
    stats = client.get("/stats").json()["cache"]
    assert stats["backend"] == ("redis" if backend.redis_url else "memory")
    assert (stats["hits"], stats["misses"]) == (1, 2)


def test_any_ingest_delete_or_reset_invalidates_cached_answers(client, backend):
    assert ask(client)["cached"] is False and ask(client)["cached"] is True
    # Upload a new material: the index changes, so the cached answer is not served.
    upload = client.post("/materials", files={"files": ("extra.txt", "Proteína: coma 2 g por quilo.".encode())})
    assert client.app.state.jobs.wait(upload.json()["job_id"]).state == "completed"
    assert ask(client)["cached"] is False and ask(client)["cached"] is True
    material_id = upload.json()["materials"][0]["id"]
    assert client.delete(f"/materials/{material_id}").status_code == 200
    assert ask(client)["cached"] is False
    assert client.post("/reset", json={"confirm": "RESET"}).status_code == 200
    after_reset = ask(client)
    assert after_reset["cached"] is False and after_reset["sources"] == []


def test_follow_up_questions_in_a_thread_are_not_served_from_the_cache(client):
    ask(client)  # cached now
    headers = {THREAD_HEADER: "cache-thread-1"}
    first = client.post("/rag/invoke", json={"input": {"question": QUESTION}}, headers=headers).json()["output"]
    follow_up = client.post("/rag/invoke", json={"input": {"question": QUESTION}}, headers=headers).json()["output"]
    assert first["cached"] is True  # a first question of a thread can be
    assert follow_up["cached"] is False  # the second depends on the conversation


def test_clients_cannot_steer_the_servers_cache_key(client, backend):
    ask(client)  # the answer is cached now
    sneaky = {"input": {"question": QUESTION}, "config": {"configurable": {"checked_cache_key": "poisoned"}}}
    response = client.post("/rag/invoke", json=sneaky)
    assert response.status_code == 200
    assert response.json()["output"]["cached"] is True  # looked up as usual: the client's key was dropped


def test_the_cache_on_a_redis_cluster_spreads_answers_over_nodes_and_clears_them_all(
    redis_cluster_settings, embeddings
):
    from knowledge.services import build_services

    services = build_services(redis_cluster_settings, embeddings=embeddings)
    cache, client = services.cache, services.cache.client
    keys = [cache.key(f"{QUESTION} ({number})", None, {"k": 4}) for number in range(30)]
    for number, key in enumerate(keys):
        cache.put(key, {"answer": f"resposta {number}"})
    assert len({client.get_node_from_key(key).name for key in keys}) > 1  # the answers live on several nodes
    assert [cache.get(key) for key in keys[:3]] == [{"answer": f"resposta {number}"} for number in range(3)]
    assert cache.get(cache.key("Outra pergunta?", None, {"k": 4})) is None
    assert (cache.stats()["backend"], cache.stats()["hits"], cache.stats()["misses"]) == ("redis", 3, 1)
    assert cache.clear() == len(keys)  # found on every node by SCAN
    assert cache.get(keys[0]) is None
    services.catalog.close()
