"""Our Redis saver against the whole langgraph-checkpoint-conformance suite, with InMemorySaver as control."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import ALL_CAPABILITIES, BASE_CAPABILITIES
from langgraph.checkpoint.memory import InMemorySaver
from redis.crc import key_slot

from core.redis_checkpoint import RedisSaver


def conformance(registered) -> tuple[int, int, list[str], set[str]]:
    report = asyncio.run(validate(registered))
    passed = sum(result.tests_passed for result in report.results.values())
    failed = sum(result.tests_failed for result in report.results.values())
    failures = [failure for result in report.results.values() for failure in result.failures]
    tested = {name for name, result in report.results.items() if result.detected}
    return passed, passed + failed, failures, tested


@pytest.fixture(params=["redis", "redis-cluster"])
def target(request) -> tuple[str, bool, str]:
    """(URL, cluster?, key prefix): the machine's Redis, or the session's Redis Cluster."""
    if request.param == "redis-cluster":
        settings = request.getfixturevalue("redis_cluster_settings")
        return settings.redis_url, True, settings.redis_prefix
    return request.getfixturevalue("redis_url"), False, request.getfixturevalue("redis_prefix")


def test_redis_saver_passes_every_conformance_check_inmemory_saver_is_the_control(target, capsys):
    url, cluster, prefix = target

    @checkpointer_test(name="RedisSaver")
    async def redis_saver():
        # A fresh key prefix per capability suite, like a fresh database, so `list(None)` sees only its own data.
        saver = RedisSaver.from_url(url, cluster=cluster, prefix=f"{prefix}:{uuid.uuid4().hex[:8]}")
        yield saver
        await saver.aclose()

    @checkpointer_test(name="InMemorySaver")
    async def memory_saver():
        yield InMemorySaver()

    ours = conformance(redis_saver)
    control = conformance(memory_saver)
    where = " on a Redis Cluster" if cluster else ""
    with capsys.disabled():
        print(f"\nconformance: RedisSaver{where} {ours[0]}/{ours[1]} "
              f"(capabilities {len(ours[3])}/{len(ALL_CAPABILITIES)}); "
              f"InMemorySaver {control[0]}/{control[1]} (capabilities {len(control[3])}/{len(ALL_CAPABILITIES)})")
    assert ours[2] == []
    assert ours[3] == {capability.value for capability in ALL_CAPABILITIES}  # the optional ones too
    assert control[2] == [] and control[3] >= {capability.value for capability in BASE_CAPABILITIES}
    assert ours[1] > control[1]  # the harness really ran the optional suites on ours


# Braces and colons must not break the hash tag; nor may an empty id make it empty.
@pytest.mark.parametrize("thread_id", ["user:42/conversa {1}", ""])
def test_every_key_of_a_thread_lives_in_one_cluster_slot(target, thread_id):
    url, cluster, redis_prefix = target
    saver = RedisSaver.from_url(url, cluster=cluster, prefix=redis_prefix)
    config = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
    stored = saver.put(config, empty_checkpoint(), {"source": "input", "step": -1}, {})
    saver.put_writes(stored, [("messages", "olá")], task_id="t1")
    child = {"configurable": {"thread_id": thread_id, "checkpoint_ns": "sub:1"}}
    saver.put(child, empty_checkpoint(), {"source": "loop", "step": 0}, {})

    keys = [key.decode() for key in saver.client.scan_iter(f"{redis_prefix}:cp:{{*", count=1000)]
    assert len(keys) >= 6
    assert len({key_slot(key.encode()) for key in keys}) == 1
    assert saver.get_tuple(config).pending_writes == [("t1", "messages", "olá")]
    saver.close()


def test_threads_expire_after_their_last_write_when_a_ttl_is_set(redis_url, redis_prefix):
    saver = RedisSaver.from_url(redis_url, prefix=redis_prefix, ttl_seconds=120)
    config = {"configurable": {"thread_id": "t-ttl", "checkpoint_ns": ""}}
    checkpoint = empty_checkpoint()
    checkpoint["channel_values"] = {"messages": ["oi"]}
    checkpoint["channel_versions"] = {"messages": 1}
    saver.put(config, checkpoint, {"source": "input", "step": -1, "run_id": "r1"}, {"messages": 1})
    keys = list(saver.client.scan_iter(f"{redis_prefix}:cp:*", count=1000))
    ttls = [saver.client.ttl(key) for key in keys if b"threads" not in key]
    assert ttls and all(0 < ttl <= 120 for ttl in ttls)
    assert saver.client.ttl(f"{redis_prefix}:cp:threads") == -1  # the index of threads itself never expires

    without_ttl = RedisSaver.from_url(redis_url, prefix=f"{redis_prefix}:plain")
    without_ttl.put(config, checkpoint, {"source": "input", "step": -1}, {"messages": 1})
    assert {without_ttl.client.ttl(key) for key in without_ttl.client.scan_iter(f"{redis_prefix}:plain:*")} == {-1}
    saver.close()
    without_ttl.close()


def test_unknown_prune_strategy_is_refused(redis_url, redis_prefix):
    saver = RedisSaver.from_url(redis_url, prefix=redis_prefix)
    with pytest.raises(ValueError, match="keep_latest"):
        saver.prune(["t"], strategy="oldest")


def test_a_dead_redis_raises_a_connection_error_quickly():
    saver = RedisSaver.from_url("redis://127.0.0.1:1/0")
    with pytest.raises(redis.ConnectionError):
        saver.get_tuple({"configurable": {"thread_id": "t"}})


def test_threads_spread_over_the_cluster_nodes_and_each_keeps_its_own(redis_cluster_settings):
    settings = redis_cluster_settings
    saver = RedisSaver.from_url(settings.redis_url, cluster=True, prefix=settings.redis_prefix, ttl_seconds=600)
    threads = [f"aluno-{number}" for number in range(12)]
    for thread_id in threads:
        checkpoint = empty_checkpoint()
        checkpoint["channel_values"] = {"messages": [f"oi de {thread_id}"]}
        checkpoint["channel_versions"] = {"messages": 1}
        config = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
        stored = saver.put(config, checkpoint, {"source": "input", "step": -1, "run_id": f"run-{thread_id}"},
                           {"messages": 1})
        saver.put_writes(stored, [("messages", f"resposta a {thread_id}")], task_id="t1")

    keys = [key.decode() for key in saver.client.scan_iter(f"{settings.redis_prefix}:cp:{{*", count=1000)]
    assert len({saver.client.get_node_from_key(key).name for key in keys}) > 1  # threads live on several nodes
    for thread_id in threads:
        assert len({key_slot(key.encode()) for key in keys if f"{{{thread_id}}}" in key}) == 1
        latest = saver.get_tuple({"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}})
        assert latest.checkpoint["channel_values"] == {"messages": [f"oi de {thread_id}"]}
        assert latest.pending_writes == [("t1", "messages", f"resposta a {thread_id}")]
    assert sorted(item.config["configurable"]["thread_id"] for item in saver.list(None)) == sorted(threads)

    deleted, kept = threads[:6], threads[6:]
    for thread_id in deleted:
        saver.delete_thread(thread_id)
    saver.delete_for_runs([f"run-{kept[0]}"])
    assert [saver.get_tuple({"configurable": {"thread_id": thread_id}}) for thread_id in deleted] == [None] * 6
    assert saver.get_tuple({"configurable": {"thread_id": kept[0]}}) is None
    assert all(saver.get_tuple({"configurable": {"thread_id": thread_id}}) for thread_id in kept[1:])
    left = [key.decode() for key in saver.client.scan_iter(f"{settings.redis_prefix}:cp:{{*", count=1000)]
    assert not [key for key in left if any(f"{{{thread_id}}}" in key for thread_id in deleted)]
    saver.close()
