"""Sessions and limits: revoked tokens, one-use tokens (refresh, reset), rate-limit counters and per-thread locks.

On Redis when REDIS_URL is set, so every API-server process sees the same state; in process memory
otherwise (one process). Each operation is one or two Redis commands, which is why this is written
here rather than taken from a rate-limit or session library: the API server needs all four behind
one connection and one failure mode (`StoreUnavailable`, answered as 503).
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import redis.asyncio
import redis.exceptions
from redis.asyncio.cluster import RedisCluster

from core.redis_client import UNAVAILABLE, async_client, describe
from core.settings import Settings


class StoreUnavailable(RuntimeError):
    """Redis is configured but cannot be reached; callers answer 503 rather than guess."""


class LockTimeout(RuntimeError):
    """Another request holds the lock for longer than the caller is willing to wait."""


@dataclass(frozen=True)
class RateLimit:
    allowed: bool
    remaining: int
    retry_after: float  # seconds until the window resets (0 when allowed)


class KeyValueStore(ABC):
    """Primitives each backend implements, and the helpers the API server uses, built on them."""

    backend: str

    def __init__(self, prefix: str):
        self.prefix = prefix

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, "kv", *parts))

    @abstractmethod
    async def get(self, key: str) -> str | None: ...

    @abstractmethod
    async def set(self, key: str, value: str, ttl_seconds: float | None = None) -> None: ...

    @abstractmethod
    async def take(self, key: str) -> str | None:
        """Read and delete in one step: the value is returned to exactly one caller."""

    @abstractmethod
    async def delete(self, key: str) -> bool: ...

    @abstractmethod
    async def increment(self, key: str, window_seconds: float) -> tuple[int, float]:
        """Count one event in the current fixed window; returns (count, seconds until the window ends)."""

    @abstractmethod
    def lock(self, key: str, *, lease_seconds: float, wait_seconds: float) -> AsyncIterator[None]:
        """Hold `key` exclusively (released when the lease runs out if the holder dies); LockTimeout if busy."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise StoreUnavailable if the store cannot be reached."""

    async def close(self) -> None:
        return None

    # Access and refresh tokens.
    async def revoke_token(self, token_id: str, expires_at: float) -> None:
        """Refuse this token id until it would have expired anyway."""
        ttl = expires_at - time.time()
        if ttl > 0:
            await self.set(self.key("revoked", token_id), "1", ttl)

    async def is_revoked(self, token_id: str) -> bool:
        return await self.get(self.key("revoked", token_id)) is not None

    async def save_one_use_token(self, kind: str, token_id: str, subject: str, ttl_seconds: float) -> None:
        """Remember a token (refresh, password reset) that may be used once, for `ttl_seconds`."""
        await self.set(self.key(kind, token_id), subject, ttl_seconds)

    async def use_one_use_token(self, kind: str, token_id: str) -> str | None:
        """The subject of a one-use token, which is spent by this call (a replay gets None)."""
        return await self.take(self.key(kind, token_id))

    async def revoke_one_use_token(self, kind: str, token_id: str) -> None:
        await self.delete(self.key(kind, token_id))

    # Limits and locks.
    async def hit(self, bucket: str, limit: int, window_seconds: float) -> RateLimit:
        count, resets_in = await self.increment(self.key("rate", bucket), window_seconds)
        if count > limit:
            return RateLimit(allowed=False, remaining=0, retry_after=max(resets_in, 0.001))
        return RateLimit(allowed=True, remaining=limit - count, retry_after=0.0)

    async def clear_hits(self, bucket: str) -> None:
        """Forget what `bucket` counted (a login's failures, once the password was right)."""
        await self.delete(self.key("rate", bucket))

    def thread_lock(self, thread_id: str, *, lease_seconds: float = 300, wait_seconds: float = 120):
        """Serialize the turns of one conversation across every process."""
        return self.lock(self.key("thread-lock", thread_id), lease_seconds=lease_seconds, wait_seconds=wait_seconds)


class MemoryStore(KeyValueStore):
    backend = "memory"

    def __init__(self, prefix: str = "dnaforca"):
        super().__init__(prefix)
        self._values: dict[str, tuple[str, float | None]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _live(self, key: str) -> tuple[str, float | None] | None:
        entry = self._values.get(key)
        if entry is not None and entry[1] is not None and entry[1] <= time.monotonic():
            del self._values[key]
            return None
        return entry

    async def get(self, key: str) -> str | None:
        entry = self._live(key)
        return entry[0] if entry else None

    async def set(self, key: str, value: str, ttl_seconds: float | None = None) -> None:
        self._values[key] = (value, time.monotonic() + ttl_seconds if ttl_seconds else None)

    async def take(self, key: str) -> str | None:
        entry = self._live(key)
        self._values.pop(key, None)
        return entry[0] if entry else None

    async def delete(self, key: str) -> bool:
        return self._live(key) is not None and self._values.pop(key, None) is not None

    async def increment(self, key: str, window_seconds: float) -> tuple[int, float]:
        entry = self._live(key)
        now = time.monotonic()
        if entry is None:
            entry = ("0", now + window_seconds)
        count = int(entry[0]) + 1
        self._values[key] = (str(count), entry[1])
        return count, entry[1] - now

    @asynccontextmanager
    async def lock(self, key: str, *, lease_seconds: float, wait_seconds: float) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            await asyncio.wait_for(lock.acquire(), wait_seconds)
        except TimeoutError:
            raise LockTimeout(f"{key} is busy") from None
        try:
            yield
        finally:
            lock.release()
            if not lock.locked() and not getattr(lock, "_waiters", None):
                self._locks.pop(key, None)

    async def ping(self) -> None:
        return None


# Opens the window on its first event, counts, and reads when the window ends, atomically on one key: one
# command, so the same on Redis Cluster (redis-py's async cluster client runs each command of a MULTI/EXEC
# in a thread of its own, blocking the event loop meanwhile).
INCREMENT = """
redis.call('SET', KEYS[1], 0, 'PX', ARGV[1], 'NX')
return {redis.call('INCR', KEYS[1]), redis.call('PTTL', KEYS[1])}
"""


class RedisStore(KeyValueStore):
    backend = "redis"

    def __init__(self, client: redis.asyncio.Redis | RedisCluster, prefix: str = "dnaforca", where: str = "Redis"):
        super().__init__(prefix)
        self.client, self.where = client, where
        self._increment = client.register_script(INCREMENT)

    @asynccontextmanager
    async def _reachable(self) -> AsyncIterator[None]:
        try:
            yield
        except UNAVAILABLE as error:
            raise StoreUnavailable(f"Redis at {self.where} is unreachable: {error}") from error

    async def get(self, key: str) -> str | None:
        async with self._reachable():
            value = await self.client.get(key)
        return value.decode() if value is not None else None

    async def set(self, key: str, value: str, ttl_seconds: float | None = None) -> None:
        async with self._reachable():
            await self.client.set(key, value, px=int(ttl_seconds * 1000) if ttl_seconds else None)

    async def take(self, key: str) -> str | None:
        async with self._reachable():
            value = await self.client.getdel(key)
        return value.decode() if value is not None else None

    async def delete(self, key: str) -> bool:
        async with self._reachable():
            return bool(await self.client.delete(key))

    async def increment(self, key: str, window_seconds: float) -> tuple[int, float]:
        async with self._reachable():
            count, ttl_ms = await self._increment(keys=[key], args=[int(window_seconds * 1000)])
        return int(count), max(ttl_ms, 0) / 1000

    @asynccontextmanager
    async def lock(self, key: str, *, lease_seconds: float, wait_seconds: float) -> AsyncIterator[None]:
        lock = self.client.lock(key, timeout=lease_seconds, blocking_timeout=wait_seconds)
        async with self._reachable():
            acquired = await lock.acquire()
        if not acquired:
            raise LockTimeout(f"{key} is busy")
        try:
            yield
        finally:
            try:
                await lock.release()
            except (redis.exceptions.LockNotOwnedError, *UNAVAILABLE):
                pass  # the lease ran out (or Redis went away): the lock frees itself when the lease ends

    async def ping(self) -> None:
        async with self._reachable():
            await self.client.ping()

    async def close(self) -> None:
        await self.client.aclose()


def make_store(settings: Settings) -> KeyValueStore:
    if settings.redis_url:
        client = async_client(settings.redis_url, settings.redis_cluster)
        return RedisStore(client, settings.redis_prefix, describe(settings.redis_url))
    return MemoryStore(settings.redis_prefix)
