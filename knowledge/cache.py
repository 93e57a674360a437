"""Answers of the retrieval agent, cached on everything that decides them.

The key holds the normalized question, the material filter, the run's configuration in force (prompts, k,
retrieval mode and threshold, model and its options), the process's setup (the model answering now, embedding model) and
the catalogue's index version, which every ingest,
delete and reset bumps: a changed index changes every key, so a stale answer is never served (old entries
simply expire). Redis with REDIS_URL (shared by every process, hits and misses counted there too), an
in-process LRU otherwise. A Redis outage only turns the cache off until Redis is back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Callable

import redis
from cachetools import TTLCache
from redis.cluster import RedisCluster

from core.redis_client import UNAVAILABLE
from core.settings import Settings
from knowledge.metrics import CACHE_LOOKUPS

log = logging.getLogger(__name__)
# A dead Redis is logged at most this often, not on every question.
WARN_INTERVAL_SECONDS = 60.0
REST_SECONDS = 2.0


def normalize_question(question: str) -> str:
    """Same question, same key: case, accents' encoding, spacing and closing punctuation do not matter."""
    text = unicodedata.normalize("NFC", question).casefold()
    return re.sub(r"\s+", " ", text).strip().rstrip("?!.;:… ").strip()


class QueryCache:
    def __init__(
        self,
        settings: Settings,
        setup: Callable[[], dict],
        index_version: Callable[[], int],
        client: redis.Redis | RedisCluster | None = None,
    ):
        self.ttl = settings.query_cache_ttl_seconds
        self._index_version = index_version
        self.client = client
        self.backend = "off" if self.ttl <= 0 else ("redis" if client is not None else "memory")
        self._prefix = f"{settings.redis_prefix}:cache"
        self._counts_key = f"{self._prefix}:counts"  # one hash: both counts are read in one command, on a cluster too
        self._memory: TTLCache = TTLCache(maxsize=max(settings.query_cache_size, 1), ttl=max(self.ttl, 1))
        self._counts: Counter = Counter()
        self._lock = threading.Lock()
        self._last_warning = self._rest_until = 0.0
        self._setup = setup

    def key(self, question: str, material_ids: list[str] | None, configuration: dict) -> str:
        """The key of this question's answer, under this configuration, on the index as it is now."""
        materials = sorted(set(material_ids or []))
        body = json.dumps([normalize_question(question), materials, configuration, self._setup(),
                           self._index_version()], sort_keys=True, ensure_ascii=False)
        return f"{self._prefix}:answer:{hashlib.sha256(body.encode()).hexdigest()}"

    def get(self, key: str) -> dict | None:
        if self.backend == "memory":
            with self._lock:
                value = self._memory.get(key)
                self._counts["hits" if value is not None else "misses"] += 1
            CACHE_LOOKUPS.labels("hit" if value is not None else "miss").inc()
            return value
        if self.backend == "off" or self._redis_resting():
            return None
        try:
            raw = self.client.get(key)
            self.client.hincrby(self._counts_key, "hits" if raw is not None else "misses")
        except UNAVAILABLE as error:
            self._unavailable(error)
            return None
        CACHE_LOOKUPS.labels("hit" if raw is not None else "miss").inc()
        return json.loads(raw) if raw is not None else None

    def put(self, key: str, value: dict) -> None:
        if self.backend == "memory":
            with self._lock:
                self._memory[key] = value
        elif self.backend == "redis" and not self._redis_resting():
            try:
                self.client.set(key, json.dumps(value, ensure_ascii=False), ex=self.ttl)
            except UNAVAILABLE as error:
                self._unavailable(error)

    def clear(self) -> int:
        """Forget every cached answer; returns how many there were."""
        if self.backend == "memory":
            with self._lock:
                removed = len(self._memory)
                self._memory.clear()
            return removed
        if self.backend == "off":
            return 0
        removed = 0
        batch = []
        for key in self.client.scan_iter(f"{self._prefix}:answer:*", count=1000):
            batch.append(key)
            if len(batch) == 1000:
                removed += self.client.delete(*batch)
                batch.clear()
        return removed + (self.client.delete(*batch) if batch else 0)

    def stats(self) -> dict:
        counts = dict(self._counts)
        if self.backend == "redis":
            try:
                hits, misses = self.client.hmget(self._counts_key, "hits", "misses")
                counts |= {"hits": int(hits or 0), "misses": int(misses or 0)}
            except UNAVAILABLE as error:
                counts["unavailable"] = str(error)
        hits, misses = counts.get("hits", 0), counts.get("misses", 0)
        return {
            "backend": self.backend,
            "ttl_seconds": self.ttl,
            "hits": hits,
            "misses": misses,
            "hit_rate": round(hits / (hits + misses), 3) if hits + misses else None,
            "errors": counts.get("errors", 0),
        } | ({"unavailable": counts["unavailable"]} if "unavailable" in counts else {})

    def _redis_resting(self) -> bool:
        """After a failure the cache leaves Redis alone for a few seconds, so no question waits on a dead Redis."""
        return time.monotonic() < self._rest_until

    def _unavailable(self, error: Exception) -> None:
        with self._lock:
            self._counts["errors"] += 1
            self._rest_until = time.monotonic() + REST_SECONDS
            if time.monotonic() - self._last_warning > WARN_INTERVAL_SECONDS:
                self._last_warning = time.monotonic()
                log.warning("Query cache off while Redis is unreachable: %s", error)
