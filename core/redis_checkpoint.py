"""A LangGraph checkpoint saver on plain Redis (no modules) or Redis Cluster, sync and async.

Layout, for a thread T (every key of a thread shares the hash tag `{T}`, so one thread lives in one
cluster slot and its writes can be MULTI/EXEC transactions; different threads spread over the nodes) and a
checkpoint namespace NS:

    P:cp:{T}:namespaces        SET   namespaces the thread has
    P:cp:{T}:ids:NS            ZSET  checkpoint ids, all scored 0 so they sort lexically (uuid6 = time order)
    P:cp:{T}:checkpoints:NS    HASH  checkpoint id -> (checkpoint without values, metadata, parent id)
    P:cp:{T}:blobs:NS          HASH  channel NUL version -> channel value (only channels that changed)
    P:cp:{T}:writes:NS         HASH  checkpoint id NUL task id NUL idx -> pending write
    P:cp:{T}:write-ids:NS      ZSET  the same fields, so one checkpoint's writes are a lexical range

and two indexes outside any thread: P:cp:threads (SET, for listing every thread) and P:cp:run:R (SET of
the checkpoints metadata run_id R produced, for delete_for_runs).

The logic of each operation is written once as a plan: a generator that yields batches of Redis
commands and receives their replies, or yields results. A sync and an async driver run the same plans.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import ormsgpack
import redis
import redis.asyncio
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
    get_checkpoint_metadata,
    writes_sort_key,
)
from langgraph.checkpoint.serde.base import SerializerProtocol
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import RedisCluster

from core.redis_client import async_client, sync_client

# How many checkpoints `list` fetches per round trip while it filters on metadata.
LIST_PAGE = 64
PRUNE_STRATEGIES = ("keep_latest", "delete")


@dataclass
class _Batch:
    """Commands sent in one round trip (as MULTI/EXEC when `atomic`); the plan receives their replies."""

    commands: list[tuple]
    atomic: bool = False


@dataclass
class _Emit:
    """A result the plan hands to its caller."""

    value: Any


Plan = Generator[_Batch | _Emit, list | None, None]


class _ThreadKeys:
    def __init__(self, prefix: str, thread_id: str):
        # Percent-encoding keeps braces and colons of the thread id out of the hash tag and key structure. An
        # empty tag `{}` would hash each whole key to a slot of its own: the empty id is tagged `{%}`, which no
        # percent-encoded id can be.
        self.base = f"{prefix}:cp:{{{quote(thread_id, safe='') or '%'}}}"
        self.namespaces = f"{self.base}:namespaces"

    def ids(self, ns: str) -> str:
        return f"{self.base}:ids:{ns}"

    def checkpoints(self, ns: str) -> str:
        return f"{self.base}:checkpoints:{ns}"

    def blobs(self, ns: str) -> str:
        return f"{self.base}:blobs:{ns}"

    def writes(self, ns: str) -> str:
        return f"{self.base}:writes:{ns}"

    def write_ids(self, ns: str) -> str:
        return f"{self.base}:write-ids:{ns}"

    def of_namespace(self, ns: str) -> list[str]:
        return [self.ids(ns), self.checkpoints(ns), self.blobs(ns), self.writes(ns), self.write_ids(ns)]

    def all(self, namespaces: Sequence[str]) -> list[str]:
        return [self.namespaces] + [key for ns in namespaces for key in self.of_namespace(ns)]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _blob_field(channel: str, version: Any) -> str:
    return f"{channel}\x00{version}"


def _write_field(checkpoint_id: str, task_id: str, idx: int) -> str:
    return f"{checkpoint_id}\x00{task_id}\x00{idx}"


def _write_range(checkpoint_id: str) -> tuple[str, str]:
    """ZRANGEBYLEX bounds covering every write field of one checkpoint."""
    return f"[{checkpoint_id}\x00", f"({checkpoint_id}\x01"


def _advance(plan: Plan, reply: list | None) -> _Batch | _Emit | None:
    """The plan's next step (given the replies to its last batch), or None when it is done."""
    try:
        return plan.send(reply)
    except StopIteration:
        return None


def _pipeline(client: redis.Redis | RedisCluster | redis.asyncio.Redis | AsyncRedisCluster, batch: _Batch):
    pipe = client.pipeline(transaction=batch.atomic)
    for command in batch.commands:
        pipe.execute_command(*command)
    return pipe


def _flatten(mapping: dict) -> list:
    return [item for pair in mapping.items() for item in pair]


class RedisSaver(BaseCheckpointSaver[int]):
    """Checkpoints on any Redis 6.2+/Valkey: plain strings, hashes, sets and sorted sets only.

    `ttl_seconds` makes every thread expire that long after its last write (sliding; None keeps them).
    """

    def __init__(
        self,
        client: redis.Redis | RedisCluster,
        aclient: redis.asyncio.Redis | AsyncRedisCluster,
        *,
        prefix: str = "dnaforca",
        ttl_seconds: int | None = None,
        serde: SerializerProtocol | None = None,
    ):
        super().__init__(serde=serde)
        self.client, self.aclient = client, aclient
        self.prefix, self.ttl_seconds = prefix, ttl_seconds
        self._threads_key = f"{prefix}:cp:threads"

    @classmethod
    def from_url(cls, url: str, *, cluster: bool = False, **kwargs: Any) -> RedisSaver:
        return cls(sync_client(url, cluster), async_client(url, cluster), **kwargs)

    def close(self) -> None:
        self.client.close()

    async def aclose(self) -> None:
        await self.aclient.aclose()

    # Drivers: the same plan, run on the sync or on the async client.
    def _run(self, plan: Plan) -> Iterator[Any]:
        step = _advance(plan, None)
        while step is not None:
            if isinstance(step, _Emit):
                yield step.value
                step = _advance(plan, None)
            else:
                step = _advance(plan, _pipeline(self.client, step).execute())

    async def _arun(self, plan: Plan) -> AsyncIterator[Any]:
        step = _advance(plan, None)
        while step is not None:
            if isinstance(step, _Emit):
                yield step.value
                step = _advance(plan, None)
            else:
                # redis-py's async cluster client queues each command of a MULTI/EXEC from a fresh event loop in a
                # thread; were that loop the one to discover the cluster, the client's connections would die with
                # it. So the cluster is discovered here (a no-op once done, and on plain Redis).
                await self.aclient.initialize()
                step = _advance(plan, await _pipeline(self.aclient, step).execute())

    def _first(self, plan: Plan) -> Any:
        return next(self._run(plan), None)

    async def _afirst(self, plan: Plan) -> Any:
        async for value in self._arun(plan):
            return value
        return None

    # Sync API.
    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self._first(self._get_tuple(config))

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        yield from self._run(self._list(config, filter, before, limit))

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return self._first(self._put(config, checkpoint, metadata, new_versions))

    def put_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        self._first(self._put_writes(config, writes, task_id, task_path))

    def delete_thread(self, thread_id: str) -> None:
        self._first(self._delete_threads([thread_id]))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self._first(self._delete_for_runs(run_ids))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._first(self._copy_thread(source_thread_id, target_thread_id))

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self._first(self._prune(thread_ids, strategy))

    # Async API.
    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await self._afirst(self._get_tuple(config))

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        async for value in self._arun(self._list(config, filter, before, limit)):
            yield value

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await self._afirst(self._put(config, checkpoint, metadata, new_versions))

    async def aput_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        await self._afirst(self._put_writes(config, writes, task_id, task_path))

    async def adelete_thread(self, thread_id: str) -> None:
        await self._afirst(self._delete_threads([thread_id]))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await self._afirst(self._delete_for_runs(run_ids))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await self._afirst(self._copy_thread(source_thread_id, target_thread_id))

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await self._afirst(self._prune(thread_ids, strategy))

    async def aping(self) -> bool:
        return bool(await self.aclient.ping())

    # Encoding.
    def _pack_typed(self, value: Any) -> bytes:
        return ormsgpack.packb(list(self.serde.dumps_typed(value)))

    def _run_key(self, run_id: str) -> str:
        return f"{self.prefix}:cp:run:{run_id}"

    # Plans.
    def _write(
        self,
        thread_id: str,
        keys: _ThreadKeys,
        commands: list[tuple],
        namespaces: Sequence[str],
        *,
        new_thread: bool = False,
        runs: dict[str, list] | None = None,
    ) -> Plan:
        """Apply a thread's writes as one MULTI/EXEC, sliding the expiry of what they touched; then index the
        thread (on its first checkpoint) and its runs, whose keys live outside the thread's slot."""
        if self.ttl_seconds:
            touched = [keys.namespaces, *(key for ns in namespaces for key in keys.of_namespace(ns))]
            commands = [*commands, *(("EXPIRE", key, self.ttl_seconds) for key in touched),
                        ("SMEMBERS", keys.namespaces)]
        replies = yield _Batch(commands, atomic=True)
        after: list[tuple] = [("SADD", self._threads_key, thread_id)] if new_thread else []
        for run_id, references in (runs or {}).items():
            after.append(("SADD", self._run_key(run_id), *references))
            if self.ttl_seconds:
                after.append(("EXPIRE", self._run_key(run_id), self.ttl_seconds))
        if self.ttl_seconds:  # the thread's other namespaces live as long as it does
            others = [_text(ns) for ns in replies[-1] if _text(ns) not in namespaces]
            after += [("EXPIRE", key, self.ttl_seconds) for ns in others for key in keys.of_namespace(ns)]
        if after:
            yield _Batch(after)

    def _put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Plan:
        configurable = config["configurable"]
        thread_id, ns = configurable["thread_id"], configurable.get("checkpoint_ns", "")
        checkpoint_id, keys = checkpoint["id"], _ThreadKeys(self.prefix, thread_id)
        stored = checkpoint.copy()
        values: dict[str, Any] = stored.pop("channel_values")  # type: ignore[misc]
        blobs = {
            _blob_field(channel, version): self._pack_typed(values[channel])
            if channel in values
            else ormsgpack.packb(["empty", b""])
            for channel, version in new_versions.items()
        }
        full_metadata = get_checkpoint_metadata(config, metadata)
        record = ormsgpack.packb(
            [*self.serde.dumps_typed(stored), *self.serde.dumps_typed(full_metadata), configurable.get("checkpoint_id")]
        )
        commands: list[tuple] = [
            ("HSET", keys.checkpoints(ns), checkpoint_id, record),
            ("ZADD", keys.ids(ns), 0, checkpoint_id),
            ("SADD", keys.namespaces, ns),
        ]
        if blobs:
            commands.append(("HSET", keys.blobs(ns), *_flatten(blobs)))
        run_id = full_metadata.get("run_id")
        runs = {str(run_id): [ormsgpack.packb([thread_id, ns, checkpoint_id])]} if run_id else {}
        first = not configurable.get("checkpoint_id")  # a thread's (or namespace's) first checkpoint has no parent
        yield from self._write(thread_id, keys, commands, [ns], new_thread=first, runs=runs)
        yield _Emit({"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": checkpoint_id}})

    def _put_writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str
    ) -> Plan:
        configurable = config["configurable"]
        thread_id, ns = configurable["thread_id"], configurable.get("checkpoint_ns", "")
        checkpoint_id, keys = configurable["checkpoint_id"], _ThreadKeys(self.prefix, thread_id)
        commands: list[tuple] = []
        for position, (channel, value) in enumerate(writes):
            idx = WRITES_IDX_MAP.get(channel, position)
            field = _write_field(checkpoint_id, task_id, idx)
            record = ormsgpack.packb([task_id, channel, *self.serde.dumps_typed(value), task_path, idx])
            # A retried task must not duplicate its writes; special channels (errors, interrupts) are overwritten.
            commands.append(("HSET" if idx < 0 else "HSETNX", keys.writes(ns), field, record))
            commands.append(("ZADD", keys.write_ids(ns), 0, field))
        if commands:
            yield from self._write(thread_id, keys, commands, [ns])

    def _load(self, thread_id: str, ns: str, entries: list[tuple[str, bytes]]) -> Plan:
        """Emit full CheckpointTuples for (checkpoint id, record) pairs of one namespace, in two round trips."""
        keys = _ThreadKeys(self.prefix, thread_id)
        decoded = []
        commands: list[tuple] = []
        for checkpoint_id, record in entries:
            cp_kind, cp_data, md_kind, md_data, parent_id = ormsgpack.unpackb(record)
            checkpoint = self.serde.loads_typed((cp_kind, cp_data))
            versions = checkpoint["channel_versions"]
            decoded.append((checkpoint_id, checkpoint, self.serde.loads_typed((md_kind, md_data)), parent_id))
            fields = [_blob_field(channel, version) for channel, version in versions.items()]
            # Without channels, a placeholder keeps the replies paired; it names a key so a cluster can route it.
            commands.append(("HMGET", keys.blobs(ns), *fields) if fields else ("EXISTS", keys.blobs(ns)))
            commands.append(("ZRANGEBYLEX", keys.write_ids(ns), *_write_range(checkpoint_id)))
        if not decoded:
            return
        replies = yield _Batch(commands)
        write_fields = [replies[2 * i + 1] for i in range(len(decoded))]
        flat_fields = [field for fields in write_fields for field in fields]
        write_records = (yield _Batch([("HMGET", keys.writes(ns), *flat_fields)]))[0] if flat_fields else []
        position = 0
        for i, (checkpoint_id, checkpoint, metadata, parent_id) in enumerate(decoded):
            channels = list(checkpoint["channel_versions"])
            values = {}
            for channel, blob in zip(channels, replies[2 * i] if channels else [], strict=True):
                if blob is not None:
                    kind, data = ormsgpack.unpackb(blob)
                    if kind != "empty":
                        values[channel] = self.serde.loads_typed((kind, data))
            records = [record for record in write_records[position : position + len(write_fields[i])] if record]
            position += len(write_fields[i])
            pending = sorted((ormsgpack.unpackb(record) for record in records), key=lambda w: writes_sort_key(
                w[4], w[0], w[5]))
            yield _Emit(
                CheckpointTuple(
                    config={"configurable": {"thread_id": thread_id, "checkpoint_ns": ns,
                                             "checkpoint_id": checkpoint_id}},
                    checkpoint={**checkpoint, "channel_values": values},
                    metadata=metadata,
                    parent_config={"configurable": {"thread_id": thread_id, "checkpoint_ns": ns,
                                                    "checkpoint_id": parent_id}} if parent_id else None,
                    pending_writes=[(w[0], w[1], self.serde.loads_typed((w[2], w[3]))) for w in pending],
                )
            )

    def _get_tuple(self, config: RunnableConfig) -> Plan:
        configurable = config["configurable"]
        thread_id, ns = configurable["thread_id"], configurable.get("checkpoint_ns", "")
        keys = _ThreadKeys(self.prefix, thread_id)
        checkpoint_id = get_checkpoint_id(config)
        if not checkpoint_id:
            latest = (yield _Batch([("ZREVRANGEBYLEX", keys.ids(ns), "+", "-", "LIMIT", 0, 1)]))[0]
            if not latest:
                return
            checkpoint_id = _text(latest[0])
        record = (yield _Batch([("HGET", keys.checkpoints(ns), checkpoint_id)]))[0]
        if record is not None:
            yield from self._load(thread_id, ns, [(checkpoint_id, record)])

    def _list(
        self,
        config: RunnableConfig | None,
        filter: dict[str, Any] | None,
        before: RunnableConfig | None,
        limit: int | None,
    ) -> Plan:
        if limit is not None and limit <= 0:
            return
        remaining = limit
        if config is not None:
            threads = [config["configurable"]["thread_id"]]
        else:
            threads = sorted(_text(t) for t in (yield _Batch([("SMEMBERS", self._threads_key)]))[0])
        wanted_ns = config["configurable"].get("checkpoint_ns") if config else None
        wanted_id = get_checkpoint_id(config) if config else None
        before_id = get_checkpoint_id(before) if before else None
        for thread_id in threads:
            keys = _ThreadKeys(self.prefix, thread_id)
            if wanted_ns is not None:
                namespaces = [wanted_ns]
            else:
                namespaces = sorted(_text(ns) for ns in (yield _Batch([("SMEMBERS", keys.namespaces)]))[0])
            for ns in namespaces:
                if wanted_id:
                    ids = [wanted_id] if not before_id or wanted_id < before_id else []
                else:
                    upper = f"({before_id}" if before_id else "+"
                    ids = [_text(i) for i in (yield _Batch([("ZREVRANGEBYLEX", keys.ids(ns), upper, "-")]))[0]]
                for start in range(0, len(ids), LIST_PAGE):
                    page = ids[start : start + LIST_PAGE]
                    records = (yield _Batch([("HMGET", keys.checkpoints(ns), *page)]))[0]
                    matches = [
                        (checkpoint_id, record)
                        for checkpoint_id, record in zip(page, records, strict=True)
                        if record is not None and self._metadata_matches(record, filter)
                    ]
                    if remaining is not None:
                        matches = matches[:remaining]
                        remaining -= len(matches)
                    yield from self._load(thread_id, ns, matches)
                    if remaining == 0:
                        return

    def _metadata_matches(self, record: bytes, filter: dict[str, Any] | None) -> bool:
        if not filter:
            return True
        metadata = self._unpack_metadata(record)
        return all(metadata.get(key) == value for key, value in filter.items())

    def _delete_threads(self, thread_ids: Sequence[str]) -> Plan:
        if not thread_ids:
            return
        all_keys = [_ThreadKeys(self.prefix, thread_id) for thread_id in thread_ids]
        replies = yield _Batch([("SMEMBERS", keys.namespaces) for keys in all_keys])
        commands = [("DEL", *keys.all([_text(ns) for ns in namespaces])) for keys, namespaces in
                    zip(all_keys, replies, strict=True)]
        yield _Batch([*commands, ("SREM", self._threads_key, *thread_ids)])

    def _drop_checkpoints(self, keys: _ThreadKeys, ns: str, checkpoint_ids: Sequence[str]) -> Plan:
        """Remove checkpoints of one namespace with their pending writes (blobs are left to prune/TTL)."""
        if not checkpoint_ids:
            return
        ranges = yield _Batch([("ZRANGEBYLEX", keys.write_ids(ns), *_write_range(cid)) for cid in checkpoint_ids])
        write_fields = [field for fields in ranges for field in fields]
        commands: list[tuple] = [
            ("HDEL", keys.checkpoints(ns), *checkpoint_ids),
            ("ZREM", keys.ids(ns), *checkpoint_ids),
        ]
        if write_fields:
            commands += [("HDEL", keys.writes(ns), *write_fields), ("ZREM", keys.write_ids(ns), *write_fields)]
        yield _Batch(commands, atomic=True)

    def _delete_for_runs(self, run_ids: Sequence[str]) -> Plan:
        if not run_ids:
            return
        references = yield _Batch([("SMEMBERS", self._run_key(run_id)) for run_id in run_ids])
        by_namespace: dict[tuple[str, str], list[str]] = {}
        for packed in (reference for members in references for reference in members):
            thread_id, ns, checkpoint_id = ormsgpack.unpackb(packed)
            by_namespace.setdefault((thread_id, ns), []).append(checkpoint_id)
        for (thread_id, ns), checkpoint_ids in by_namespace.items():
            yield from self._drop_checkpoints(_ThreadKeys(self.prefix, thread_id), ns, checkpoint_ids)
        yield _Batch([("DEL", self._run_key(run_id)) for run_id in run_ids])  # one key per DEL: one slot each

    def _copy_thread(self, source_thread_id: str, target_thread_id: str) -> Plan:
        source, target = _ThreadKeys(self.prefix, source_thread_id), _ThreadKeys(self.prefix, target_thread_id)
        namespaces = [_text(ns) for ns in (yield _Batch([("SMEMBERS", source.namespaces)]))[0]]
        if not namespaces:
            return
        commands: list[tuple] = []
        for ns in namespaces:
            commands += [("HGETALL", source.checkpoints(ns)), ("HGETALL", source.blobs(ns)),
                         ("HGETALL", source.writes(ns))]
        replies = yield _Batch(commands)
        copy: list[tuple] = [("SADD", target.namespaces, *namespaces)]
        runs: dict[str, list] = {}
        for i, ns in enumerate(namespaces):
            checkpoints, blobs, writes = replies[3 * i : 3 * i + 3]
            if checkpoints:
                copy += [("HSET", target.checkpoints(ns), *_flatten(checkpoints)),
                         ("ZADD", target.ids(ns), *(item for cid in checkpoints for item in (0, cid)))]
                for cid, record in checkpoints.items():
                    if run_id := self._unpack_metadata(record).get("run_id"):
                        runs.setdefault(str(run_id), []).append(
                            ormsgpack.packb([target_thread_id, ns, _text(cid)]))
            if blobs:
                copy.append(("HSET", target.blobs(ns), *_flatten(blobs)))
            if writes:
                copy += [("HSET", target.writes(ns), *_flatten(writes)),
                         ("ZADD", target.write_ids(ns), *(item for field in writes for item in (0, field)))]
        yield from self._write(target_thread_id, target, copy, namespaces, new_thread=True, runs=runs)

    def _unpack_metadata(self, record: bytes) -> dict:
        _, _, md_kind, md_data, _ = ormsgpack.unpackb(record)
        return self.serde.loads_typed((md_kind, md_data))

    def _prune(self, thread_ids: Sequence[str], strategy: str) -> Plan:
        if strategy not in PRUNE_STRATEGIES:
            raise ValueError(f"Unknown prune strategy {strategy!r}; use one of {', '.join(PRUNE_STRATEGIES)}")
        if strategy == "delete":
            yield from self._delete_threads(thread_ids)
            return
        for thread_id in thread_ids:
            keys = _ThreadKeys(self.prefix, thread_id)
            for ns in [_text(ns) for ns in (yield _Batch([("SMEMBERS", keys.namespaces)]))[0]]:
                ids = [_text(i) for i in (yield _Batch([("ZRANGEBYLEX", keys.ids(ns), "-", "+")]))[0]]
                if not ids:
                    continue
                yield from self._drop_checkpoints(keys, ns, ids[:-1])
                # Keep only the channel values the surviving checkpoint points at.
                record, blob_fields = yield _Batch([("HGET", keys.checkpoints(ns), ids[-1]), ("HKEYS", keys.blobs(ns))])
                cp_kind, cp_data, *_ = ormsgpack.unpackb(record)
                versions = self.serde.loads_typed((cp_kind, cp_data))["channel_versions"]
                live = {_blob_field(channel, version) for channel, version in versions.items()}
                stale = [field for field in blob_fields if _text(field) not in live]
                if stale:
                    yield _Batch([("HDEL", keys.blobs(ns), *stale)])
