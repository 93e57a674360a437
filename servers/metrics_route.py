"""GET /metrics of both servers (Prometheus's text format), for a bearer of METRICS_TOKEN or of the service token.

Metrics name no user and hold no text of a material, but they tell how much is stored and who is busy: like the
other operational routes, they are not open. Each server puts on `app.state` its `metrics` (a
core.metrics.Exposition), `metrics_tokens` and `redis_ping` (an async check, or None without Redis).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from prometheus_client import Gauge
from starlette.concurrency import run_in_threadpool

from core.metrics import bearer_matches
from core.settings import Settings

REDIS_UP = Gauge("dnaforca_redis_up", "1 when Redis answered this server's last check (at the last scrape)",
                 multiprocess_mode="mostrecent")
PING_TIMEOUT_SECONDS = 2.0


def metrics_tokens(settings: Settings) -> list[str]:
    tokens = [settings.service_token()]
    if settings.metrics_token is not None:
        tokens.append(settings.metrics_token.get_secret_value())
    return tokens


async def require_metrics_reader(request: Request) -> None:
    if not bearer_matches(request.headers.get("authorization", ""), request.app.state.metrics_tokens):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "/metrics needs METRICS_TOKEN or the service token",
                            {"WWW-Authenticate": "Bearer"})


async def _answers(ping: Callable[[], Awaitable[object]]) -> bool:
    try:
        await asyncio.wait_for(ping(), PING_TIMEOUT_SECONDS)
    except Exception:  # down, refusing or slow: all mean degraded
        return False
    return True


router = APIRouter(tags=["operations"])


@router.get("/metrics", dependencies=[Depends(require_metrics_reader)], response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text exposition format"}})
async def metrics(request: Request) -> Response:
    """Every metric of this server (summed over its processes with PROMETHEUS_MULTIPROC_DIR)."""
    state = request.app.state
    if state.redis_ping is not None:
        REDIS_UP.set(1 if await _answers(state.redis_ping) else 0)
    body = await run_in_threadpool(state.metrics.render)  # the scrape-time readers may touch disk
    return Response(body, media_type=state.metrics.content_type)
