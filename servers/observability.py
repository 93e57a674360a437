"""What both servers record about every HTTP request: its id (X-Request-Id, taken from the caller or made here,
sent back and on to the RAG server), a count and a latency by route template, method and status, and one
access line in the log. The outermost middleware, so that refusals by the others are seen too."""

from __future__ import annotations

import logging
import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.contracts import REQUEST_ID_HEADER
from core.logs import RequestContext, enter_request, leave_request, new_request_id
from core.metrics import LATENCY_BUCKETS

access_log = logging.getLogger("servers.access")
REQUESTS = Counter("dnaforca_http_requests", "HTTP requests answered, by route template, method and status",
                   ["route", "method", "status"])
LATENCY = Histogram("dnaforca_http_request_duration_seconds",
                    "Time from a request's arrival to the end of its response (streams: their last byte)",
                    ["route", "method"], buckets=LATENCY_BUCKETS)
# Requests no route matched (scans, typos) share one label, so they cannot grow the series without bound.
UNMATCHED = "unmatched"
# Probes and scrapes come every few seconds: their access lines are debug-level.
QUIET_ROUTES = frozenset({"/health", "/metrics"})
_HEADER = REQUEST_ID_HEADER.lower().encode()


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or UNMATCHED


class RequestObservability:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = next((value.decode("latin-1") for name, value in scope["headers"] if name == _HEADER), None)
        context = RequestContext(new_request_id(given))
        token = enter_request(context)
        header = (_HEADER, context.request_id.encode())
        status = 500  # what the caller gets when the app fails before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._record(scope, context, status, time.perf_counter() - started)
            leave_request(token)

    @staticmethod
    def _record(scope: Scope, context: RequestContext, status: int, seconds: float) -> None:
        route, method = route_template(scope), scope["method"]
        context.route = route
        REQUESTS.labels(route, method, str(status)).inc()
        LATENCY.labels(route, method).observe(seconds)
        level = logging.DEBUG if route in QUIET_ROUTES and status < 400 else logging.INFO
        if access_log.isEnabledFor(level):
            duration_ms = round(seconds * 1000, 1)
            access_log.log(level, "%s %s %d %.1f ms", method, scope["path"], status, duration_ms,
                           extra={"method": method, "route": route, "status": status, "duration_ms": duration_ms})
