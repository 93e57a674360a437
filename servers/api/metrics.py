"""The API server's own metrics: logins, refusals by rate limits, open answer streams, failures reaching the RAG
server. (HTTP requests are counted for both servers by servers/observability.py.)"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from core.metrics import Exposition

LOGINS = Counter("dnaforca_api_logins", "Login attempts by outcome", ["outcome"])
RATE_LIMITED = Counter("dnaforca_api_rate_limited", "Requests refused with 429, by the limit that refused them",
                       ["limit"])
OPEN_STREAMS = Gauge("dnaforca_api_sse_streams_open", "Answers being streamed to clients (Server-Sent Events)",
                     multiprocess_mode="livesum")
RAG_CLIENT_ERRORS = Counter("dnaforca_api_rag_client_errors", "Calls to the RAG server that failed, by kind: "
                            "unreachable, timeout, incomplete (the answer stopped), refused (401/403: the service "
                            "token is not the RAG server's), client_error (other 4xx), server_error (5xx)", ["kind"])

LOGIN_OUTCOMES = ("success", "wrong_credentials", "deactivated", "rate_limited")
for _outcome in LOGIN_OUTCOMES:
    LOGINS.labels(_outcome)
for _kind in ("unreachable", "timeout", "incomplete", "refused", "client_error", "server_error"):
    RAG_CLIENT_ERRORS.labels(_kind)
for _limit in ("login-ip", "login-failures", "login-account", "register-ip", "reset-ip", "password-change", "chat-ip",
               "chat-user-minute", "chat-user-day"):
    RATE_LIMITED.labels(_limit)


def api_exposition() -> Exposition:
    return Exposition()
