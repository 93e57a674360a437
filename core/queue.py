"""Huey queues: RedisHuey when REDIS_URL is set (on a Redis Cluster with REDIS_CLUSTER), SqliteHuey in a file
otherwise, and a consumer that can live inside a server process. The RAG server's ingestion jobs and the API
server's Google Drive sync each have a queue of their own."""

from __future__ import annotations

from pathlib import Path

import redis
from huey import RedisHuey, SqliteHuey
from huey.api import Huey
from huey.consumer import Consumer
from huey.storage import RedisStorage
from redis.cluster import RedisCluster

from core.redis_client import sync_client, sync_options
from core.settings import Settings


class ClusterStorage(RedisStorage):
    """Huey's Redis storage on a Redis Cluster client. Each of its commands (and its one script) names one key,
    and the queue's name is the hash tag of every key, so the whole queue lives in one slot, on one node."""

    def redis_client(self, connection_pool: RedisCluster) -> RedisCluster:
        return connection_pool  # RedisStorage wraps its `connection_pool` in a client: here it is the client

    def clean_name(self, name: str) -> str:
        return f"{{{super().clean_name(name)}}}"


def make_huey(settings: Settings, queue: str, sqlite_path: Path) -> Huey:
    """The queue named `queue`: in Redis (keys under REDIS_PREFIX) or in the SQLite file `sqlite_path`."""
    name = f"{settings.redis_prefix}-{queue}"
    if settings.redis_url and settings.redis_cluster:
        client = sync_client(settings.redis_url, cluster=True)
        return Huey(name, storage_class=ClusterStorage, connection_pool=client, results=False)
    if settings.redis_url:
        pool = redis.ConnectionPool.from_url(settings.redis_url, **sync_options())
        return RedisHuey(name, connection_pool=pool, results=False)
    sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(f"dnaforca-{queue}", filename=str(sqlite_path), results=False)


class InlineConsumer(Consumer):
    """A consumer living inside a server: the server, not Huey, owns the process's signals."""

    def _set_signal_handlers(self) -> None:
        return None
