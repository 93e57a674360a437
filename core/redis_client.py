"""Redis connections with the same timeouts everywhere: a dead Redis fails fast and is retried on the next call."""

from __future__ import annotations

import redis
import redis.asyncio

# Connection errors surface within a second or two (then the caller degrades or answers 503); redis-py
# reconnects by itself on the next command once Redis is back.
OPTIONS = {"socket_connect_timeout": 1.0, "socket_timeout": 5.0, "health_check_interval": 15}
UNAVAILABLE = (redis.ConnectionError, redis.TimeoutError)


def sync_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, **OPTIONS)


def async_client(url: str) -> redis.asyncio.Redis:
    return redis.asyncio.Redis.from_url(url, **OPTIONS)


def describe(url: str) -> str:
    """The URL without its password, for messages."""
    kwargs = redis.connection.parse_url(url)
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"
