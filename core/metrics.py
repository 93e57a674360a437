"""Prometheus metrics of a process: what it exposes at /metrics, in one process or several sharing a folder.

Metric objects are declared where they are counted (knowledge/metrics.py, servers/api/metrics.py,
servers/observability.py). When several processes serve one server (uvicorn --workers, gunicorn), each writes
its values to PROMETHEUS_MULTIPROC_DIR (prometheus-client reads it from the environment when it is first
imported) and any of them answers /metrics with the sum. Values that describe shared state (index size, queue
depth, last backup) are read when scraped, by a collector of the server that owns them, not kept per process.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
from collections.abc import Iterable
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)
# `*_created` series double every counter's series and no panel or alert reads them.
disable_created_metrics()
MULTIPROCESS_ENVIRONMENT = "PROMETHEUS_MULTIPROC_DIR"
# Seconds: from a millisecond to the longest answer a local model writes; streams and jobs last longer.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120)


def multiprocess() -> bool:
    """Whether this process writes its values to a folder shared with its siblings (prometheus-client's own
    switch, read from the environment like the library does)."""
    return bool(os.environ.get(MULTIPROCESS_ENVIRONMENT))


class _ThisProcess(Collector):
    """Every metric this process declared (the default registry), for a registry of one's own."""

    def collect(self):
        return REGISTRY.collect()


class Exposition:
    """The text a /metrics route answers: this process's metrics (or every sibling's, summed) and the values
    `collectors` read at scrape time."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, collectors: Iterable[Collector] = ()):
        self.registry = CollectorRegistry(auto_describe=False)
        if multiprocess():
            MultiProcessCollector(self.registry)
        else:
            self.registry.register(_ThisProcess())
        for collector in collectors:
            self.registry.register(collector)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def bearer_matches(authorization: str, tokens: Iterable[str]) -> bool:
    """Whether an `Authorization` header carries one of `tokens` (compared in constant time)."""
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != "bearer" or not given:
        return False
    return any(hmac.compare_digest(given.encode(), token.encode()) for token in tokens)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args) -> None:  # scrapes every few seconds are not news
        return None


def serve_metrics(exposition: Exposition, host: str, port: int, tokens: list[str]) -> WSGIServer:
    """/metrics of a process with no web server of its own (a job worker), on its own port and thread, for
    callers with one of `tokens`."""

    def app(environ, start_response):
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"Not found: this port serves /metrics only\n"]
        if not bearer_matches(environ.get("HTTP_AUTHORIZATION", ""), tokens):
            start_response("401 Unauthorized", [("Content-Type", "text/plain"), ("WWW-Authenticate", "Bearer")])
            return [b"Missing or wrong bearer token (METRICS_TOKEN or RAG_SERVICE_TOKEN)\n"]
        start_response("200 OK", [("Content-Type", exposition.content_type)])
        return [exposition.render()]

    server = make_server(host, port, app, _ThreadingServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True).start()
    log.info("Metrics on http://%s:%d/metrics", host, server.server_port)
    return server
