"""Redis connections with the same timeouts and retries everywhere.

A dead Redis fails fast (the caller then degrades or answers 503); a restarted one is picked up again
without a restart of ours: a command that meets a connection the restart closed reconnects and is retried.
With `cluster` (REDIS_CLUSTER) the URL names one node of a Redis Cluster and the clients are redis-py's cluster
clients, which find the other nodes and route each command to the node that owns its key's slot; their
retries (the same ones) are the cluster client's own. The sync cluster client asks a node for the cluster's
layout as soon as it is built, so it fails then if no node answers.
"""

from __future__ import annotations

import redis
import redis.asyncio
import redis.asyncio.retry
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.backoff import ExponentialWithJitterBackoff
from redis.cluster import RedisCluster

OPTIONS = {"socket_connect_timeout": 1.0, "socket_timeout": 5.0, "health_check_interval": 15}
RETRIES = 2
# A cluster whose node for a slot is down answers CLUSTERDOWN (ClusterError); when no node answers at all,
# redis-py raises its bare RedisClusterException (the class of its usage errors too, which tests catch).
UNAVAILABLE = (redis.ConnectionError, redis.TimeoutError, redis.exceptions.ClusterError,
               redis.exceptions.RedisClusterException)


def _backoff() -> ExponentialWithJitterBackoff:
    return ExponentialWithJitterBackoff(base=0.05, cap=0.5)


def sync_options() -> dict:
    return {**OPTIONS, "retry": redis.retry.Retry(_backoff(), RETRIES)}


def sync_client(url: str, cluster: bool = False) -> redis.Redis | RedisCluster:
    return (RedisCluster if cluster else redis.Redis).from_url(url, **sync_options())


def async_client(url: str, cluster: bool = False) -> redis.asyncio.Redis | AsyncRedisCluster:
    kind = AsyncRedisCluster if cluster else redis.asyncio.Redis
    return kind.from_url(url, **OPTIONS, retry=redis.asyncio.retry.Retry(_backoff(), RETRIES))


def describe(url: str) -> str:
    """The URL without its password, for messages."""
    kwargs = redis.connection.parse_url(url)
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"
