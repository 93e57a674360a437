"""The sessions/limits layer, the same behaviour on Redis and in memory."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.asyncio.cluster import RedisCluster

from core.kv import LockTimeout, MemoryStore, RedisStore, StoreUnavailable, make_store
from core.redis_client import async_client


@pytest.fixture(params=["memory", "redis", "redis-cluster"])
def make(request):
    """A factory (stores are built inside each test's event loop)."""
    if request.param == "memory":
        return MemoryStore
    if request.param == "redis-cluster":
        settings = request.getfixturevalue("redis_cluster_settings")
        return lambda: make_store(settings)
    url = request.getfixturevalue("redis_url")
    prefix = request.getfixturevalue("redis_prefix")
    return lambda: RedisStore(async_client(url), prefix)


def run(coroutine):
    return asyncio.run(coroutine)


def test_revoked_tokens_stay_revoked_until_they_expire(make):
    async def scenario():
        store = make()
        await store.revoke_token("jti-1", expires_at=time.time() + 0.3)
        await store.revoke_token("jti-old", expires_at=time.time() - 1)  # already expired: nothing to remember
        revoked = (await store.is_revoked("jti-1"), await store.is_revoked("jti-2"), await store.is_revoked("jti-old"))
        await asyncio.sleep(0.4)
        later = await store.is_revoked("jti-1")
        await store.close()
        return revoked, later

    assert run(scenario()) == ((True, False, False), False)


def test_a_refresh_token_can_be_used_once(make):
    async def scenario():
        store = make()
        await store.save_one_use_token("refresh", "r1", "user-7", ttl_seconds=60)
        await store.save_one_use_token("refresh", "r2", "user-8", ttl_seconds=60)
        first, replay = await store.use_one_use_token("refresh", "r1"), await store.use_one_use_token("refresh", "r1")
        await store.revoke_one_use_token("refresh", "r2")
        revoked = await store.use_one_use_token("refresh", "r2")
        await store.close()
        return first, replay, revoked

    assert run(scenario()) == ("user-7", None, None)


def test_rate_limit_counts_a_fixed_window_per_bucket(make):
    async def scenario():
        store = make()
        hits = [await store.hit("login:ana", limit=3, window_seconds=0.5) for _ in range(4)]
        other = await store.hit("login:bia", limit=3, window_seconds=0.5)
        await asyncio.sleep(0.6)
        after_window = await store.hit("login:ana", limit=3, window_seconds=0.5)
        await store.close()
        return hits, other, after_window

    hits, other, after_window = run(scenario())
    assert [hit.allowed for hit in hits] == [True, True, True, False]
    assert [hit.remaining for hit in hits[:3]] == [2, 1, 0]
    assert 0 < hits[3].retry_after <= 0.5
    assert other.allowed and after_window.allowed and after_window.remaining == 2


def test_cleared_hits_start_a_bucket_afresh(make):
    async def scenario():
        store = make()
        for _ in range(3):
            await store.hit("login:ana", limit=3, window_seconds=60)
        await store.clear_hits("login:ana")
        after_clear = await store.hit("login:ana", limit=3, window_seconds=60)
        await store.close()
        return after_clear

    assert run(scenario()).remaining == 2


def test_thread_lock_serializes_turns_of_one_conversation(make):
    async def scenario():
        store = make()
        order: list[str] = []

        async def turn(name: str, thread: str):
            async with store.thread_lock(thread, lease_seconds=5, wait_seconds=5):
                order.append(f"{name}:start")
                await asyncio.sleep(0.1)
                order.append(f"{name}:end")

        await asyncio.gather(turn("a", "t1"), turn("b", "t1"))
        serialized = list(order)
        order.clear()
        await asyncio.gather(turn("c", "t1"), turn("d", "t2"))  # different conversations overlap
        overlapped = list(order)
        await store.close()
        return serialized, overlapped

    serialized, overlapped = run(scenario())
    assert serialized in (["a:start", "a:end", "b:start", "b:end"], ["b:start", "b:end", "a:start", "a:end"])
    assert overlapped[:2] in (["c:start", "d:start"], ["d:start", "c:start"])


def test_a_busy_lock_times_out_with_a_clear_error(make):
    async def scenario():
        store = make()
        async with store.thread_lock("t1", lease_seconds=5, wait_seconds=1):
            with pytest.raises(LockTimeout):
                async with store.thread_lock("t1", lease_seconds=5, wait_seconds=0.2):
                    pass
        async with store.thread_lock("t1", lease_seconds=5, wait_seconds=0.2):
            pass  # released: free again
        await store.close()

    run(scenario())


def test_redis_locks_hold_across_separate_connections(redis_url, redis_prefix):
    async def scenario():
        first = RedisStore(async_client(redis_url), redis_prefix)
        second = RedisStore(async_client(redis_url), redis_prefix)
        async with first.thread_lock("t1", lease_seconds=5, wait_seconds=1):
            with pytest.raises(LockTimeout):
                async with second.thread_lock("t1", lease_seconds=5, wait_seconds=0.2):
                    pass
        await first.close()
        await second.close()

    run(scenario())


def test_unreachable_redis_is_reported_as_store_unavailable():
    async def scenario():
        store = RedisStore(async_client("redis://127.0.0.1:1/0"), where="127.0.0.1:1/0")
        with pytest.raises(StoreUnavailable, match="127.0.0.1:1/0 is unreachable"):
            await store.is_revoked("jti")
        with pytest.raises(StoreUnavailable):
            await store.ping()

    run(scenario())


def test_make_store_uses_redis_only_when_configured(settings, redis_settings):
    assert make_store(redis_settings).backend == "redis"


def test_make_store_uses_a_cluster_client_with_redis_cluster(redis_cluster_settings):
    store = make_store(redis_cluster_settings)
    assert store.backend == "redis" and isinstance(store.client, RedisCluster)


def test_make_store_defaults_to_memory(settings):
    assert make_store(settings).backend == "memory"
