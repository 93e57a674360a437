"""A private Redis Cluster stopped and started again under the product's clients: unavailable, then back.

(Each Redis use is tested on the session's cluster beside its plain-Redis tests, through a "redis-cluster"
parameter: tests/core/test_kv.py, test_redis_checkpoint.py, tests/knowledge/test_query_cache.py, test_jobs.py.)
"""

from __future__ import annotations

import asyncio
import time

import pytest

from core.kv import StoreUnavailable, make_store
from core.redis_checkpoint import RedisSaver
from core.redis_client import UNAVAILABLE
from knowledge.cache import REST_SECONDS
from knowledge.jobs import JobQueue, QueueUnavailable
from knowledge.services import build_services, use_services
from tests.support.redis_cluster import redis_cluster

THREAD = {"configurable": {"thread_id": "aluno-1", "checkpoint_ns": ""}}


def test_a_stopped_cluster_is_unavailable_to_every_client_and_picked_up_again_once_back(
    settings, embeddings, tmp_path, monkeypatch
):
    from core.settings import get_settings

    with redis_cluster(tmp_path / "cluster") as cluster:
        monkeypatch.setenv("REDIS_URL", cluster.url)
        monkeypatch.setenv("REDIS_CLUSTER", "true")
        get_settings.cache_clear()
        on_cluster = get_settings()
        services = build_services(on_cluster, embeddings=embeddings)
        use_services(services)
        store, queue = make_store(on_cluster), JobQueue(on_cluster)
        saver = RedisSaver.from_url(on_cluster.redis_url, cluster=True, prefix=on_cluster.redis_prefix)
        cache, answer = services.cache, services.cache.key("Quanto descansar?", None, {})

        async def scenario():
            await store.ping()
            cache.put(answer, {"answer": "90 s"})
            assert await saver.aget_tuple(THREAD) is None and cache.get(answer) == {"answer": "90 s"}

            cluster.stop()
            with pytest.raises(StoreUnavailable, match="is unreachable"):
                await store.hit("login:ana", limit=5, window_seconds=60)
            with pytest.raises(UNAVAILABLE):  # answered 503 "Conversation memory is unavailable" by the RAG server
                await saver.aget_tuple(THREAD)
            assert cache.get(answer) is None and cache.stats()["errors"] == 1  # the cache steps aside
            rested = time.monotonic() + REST_SECONDS  # and leaves Redis alone meanwhile
            with pytest.raises(QueueUnavailable, match="unreachable"):
                queue.submit(None)

            cluster.start()  # the same cluster, empty
            await asyncio.sleep(max(rested - time.monotonic(), 0))
            assert (await store.hit("login:ana", limit=5, window_seconds=60)).remaining == 4
            assert await saver.aget_tuple(THREAD) is None
            cache.put(answer, {"answer": "2 min"})
            assert cache.get(answer) == {"answer": "2 min"}
            assert queue.submit(None).state == "queued"
            await store.close()
            await saver.aclose()

        try:
            asyncio.run(scenario())
        finally:
            use_services(None)
            services.catalog.close()
            get_settings.cache_clear()
