"""Graph checkpointers: Redis (RedisSaver) when REDIS_URL is set, SQLite under DATA_DIR otherwise."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from core.redis_checkpoint import RedisSaver
from core.settings import Settings


@asynccontextmanager
async def open_checkpointer(settings: Settings) -> AsyncIterator[BaseCheckpointSaver]:
    if settings.redis_url:
        ttl = settings.checkpoint_ttl_minutes * 60 if settings.checkpoint_ttl_minutes else None
        saver = RedisSaver.from_url(settings.redis_url, cluster=settings.redis_cluster, prefix=settings.redis_prefix,
                                    ttl_seconds=ttl)
        try:
            yield saver
        finally:
            await saver.aclose()
            saver.close()
        return
    settings.checkpoints_path.parent.mkdir(parents=True, exist_ok=True)
    async with AsyncSqliteSaver.from_conn_string(str(settings.checkpoints_path)) as saver:
        await saver.setup()
        yield saver
