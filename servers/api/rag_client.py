"""How the API server reaches the RAG server: HTTP only (RemoteRunnable for the graphs, plain calls for the rest).

Every call carries RAG_SERVICE_TOKEN and a timeout. A RAG server that cannot be reached becomes
`RagUnavailable` (503 to our client); an error it answers becomes `RagError` with its status and detail.
The conversation a graph call continues travels as X-Thread-Id, set from a context variable by a
request hook (RemoteRunnable's own `headers` argument is per client, not per call); the request being served
travels as X-Request-Id the same way, so both servers' log lines of one question share an id. Failures are
counted by kind (servers/api/metrics.py).
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx
from langserve import RemoteRunnable

from core.contracts import REQUEST_ID_HEADER, THREAD_HEADER, TURN_ROUTE, StreamEvent
from core.logs import current_request
from core.settings import Settings
from servers.api.metrics import RAG_CLIENT_ERRORS

# The RAG server refuses the service token: never the caller's fault (the API server checked the caller itself).
REFUSED = (401, 403)

_thread_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("rag_thread_id", default=None)


class RagUnavailable(RuntimeError):
    """The RAG server did not answer (down, unreachable, timed out or cut the connection)."""


class RagError(RuntimeError):
    """The RAG server answered with an error status."""

    def __init__(self, status_code: int, detail: str):
        super().__init__(detail)
        self.status_code, self.detail = status_code, detail


def segment(value: str) -> str:
    """A caller's value as one path segment of a RAG server URL (no `/`, `?`, `..` steering the call)."""
    return quote(value, safe="")


def error_detail(response: httpx.Response) -> str:
    """The `detail` of an error answer (FastAPI's shape), or the start of its body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    return str(body.get("detail", body)) if isinstance(body, dict) else str(body)


async def _add_headers(request: httpx.Request) -> None:
    thread_id = _thread_id.get()
    if thread_id is not None:
        request.headers[THREAD_HEADER] = thread_id
    context = current_request()
    if context is not None:
        request.headers[REQUEST_ID_HEADER] = context.request_id


async def _raise_on_error(response: httpx.Response) -> None:
    if response.status_code >= 400:
        status = response.status_code
        RAG_CLIENT_ERRORS.labels("server_error" if status >= 500 else "refused" if status in REFUSED else
                                 "client_error").inc()
        await response.aread()
        raise RagError(response.status_code, error_detail(response))


@dataclass
class TurnEvent:
    kind: StreamEvent  # token | sources | done
    data: object = field(default=None)


class RagClient:
    def __init__(self, settings: Settings):
        self.base_url = settings.rag_server_url.rstrip("/")
        token = settings.service_token()
        self._timeout = httpx.Timeout(settings.rag_timeout_seconds, connect=5.0)
        self._headers = {"Authorization": f"Bearer {token}"}
        self._client_options = {
            "event_hooks": {"request": [_add_headers], "response": [_raise_on_error]},
            "limits": httpx.Limits(max_connections=200, max_keepalive_connections=50),
        }
        self.http = httpx.AsyncClient(base_url=self.base_url, timeout=self._timeout, headers=self._headers,
                                      **self._client_options)
        self._graphs: dict[str, RemoteRunnable] = {}

    def graph(self, path: str) -> RemoteRunnable:
        if path not in self._graphs:
            runnable = RemoteRunnable(f"{self.base_url}{path}", timeout=self._timeout, headers=self._headers,
                                      client_kwargs=self._client_options)
            runnable.sync_client.close()  # the API server only calls it asynchronously
            self._graphs[path] = runnable
        return self._graphs[path]

    async def close(self) -> None:
        await self.http.aclose()
        for runnable in self._graphs.values():
            await runnable.async_client.aclose()

    @asynccontextmanager
    async def _reachable(self) -> AsyncIterator[None]:
        try:
            yield
        except httpx.TransportError as error:
            RAG_CLIENT_ERRORS.labels("timeout" if isinstance(error, httpx.TimeoutException) else "unreachable").inc()
            reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            raise RagUnavailable(f"The RAG server at {self.base_url} is unreachable ({reason})") from error

    async def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        async with self._reachable():
            return await self.http.request(method, path, **kwargs)

    async def json(self, method: str, path: str, **kwargs):
        return (await self.request(method, path, **kwargs)).json()

    async def open_stream(self, method: str, path: str, **kwargs) -> httpx.Response:
        """A response whose body is read as it arrives; the caller closes it (`aclose`)."""
        async with self._reachable():
            return await self.http.send(self.http.build_request(method, path, **kwargs), stream=True)

    async def turn(self, path: str, graph_input: dict, thread_id: str | None = None) -> AsyncIterator[TurnEvent]:
        """One answer from a graph (`/ask` or `/chat`), as events: its sources, the answer's tokens, then the final
        state, read from the graph's lean stream (`<path>/turn`, see core/contracts.py)."""
        _thread_id.set(thread_id)
        try:
            async with self._reachable():
                async for chunk in self.graph(f"{path}{TURN_ROUTE}").astream(graph_input):
                    for kind, data in chunk.items():
                        yield TurnEvent(StreamEvent(kind), data)
                        if kind == StreamEvent.DONE:
                            return
        finally:
            _thread_id.set(None)
        RAG_CLIENT_ERRORS.labels("incomplete").inc()
        raise RagUnavailable(f"The RAG server at {self.base_url} ended the answer before it was complete")
