"""Redis connections with the same timeouts and retries everywhere.

A dead Redis fails fast (the caller then degrades or answers 503); a restarted one is picked up again
without a restart of ours: a command that meets a connection the restart closed reconnects and is retried.
"""

from __future__ import annotations

import redis
import redis.asyncio
import redis.asyncio.retry
from redis.backoff import ExponentialWithJitterBackoff

OPTIONS = {"socket_connect_timeout": 1.0, "socket_timeout": 5.0, "health_check_interval": 15}
RETRIES = 2
UNAVAILABLE = (redis.ConnectionError, redis.TimeoutError)


def _backoff() -> ExponentialWithJitterBackoff:
    return ExponentialWithJitterBackoff(base=0.05, cap=0.5)


def sync_options() -> dict:
    return {**OPTIONS, "retry": redis.retry.Retry(_backoff(), RETRIES)}


def sync_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, **sync_options())


def async_client(url: str) -> redis.asyncio.Redis:
    return redis.asyncio.Redis.from_url(url, **OPTIONS, retry=redis.asyncio.retry.Retry(_backoff(), RETRIES))


def describe(url: str) -> str:
    """The URL without its password, for messages."""
    kwargs = redis.connection.parse_url(url)
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"
