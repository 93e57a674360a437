"""The server builds each run's config: who may set the graphs' configuration, and which conversation a call
continues (from X-Thread-Id; LangServe drops a client's `thread_id`, and it must never come from a body)."""

from __future__ import annotations

import re
import uuid

from fastapi import HTTPException, Request

from core.contracts import THREAD_HEADER
from graphs.configuration import BaseConfiguration, checked_configuration
from servers.rag.security import has_service_token

THREAD_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,200}$")


def client_configuration(config: dict, request: Request, configuration: type[BaseConfiguration]) -> dict:
    """The configuration fields a caller with the service token set, checked against the graph's Configuration
    (LangServe's copy of the schema keeps no bounds); nothing from anyone else."""
    # servers/rag/input_guard.py, a dependency of every route using these modifiers, has refused bad values.
    if not has_service_token(request):
        return {}
    return checked_configuration(configuration, config.get("configurable") or {})


def thread_id_of(request: Request) -> str | None:
    thread_id = request.headers.get(THREAD_HEADER)
    if thread_id is not None and not THREAD_ID.match(thread_id):
        raise HTTPException(400, f"{THREAD_HEADER} must be 1-200 characters of letters, digits and . _ : @ -")
    return thread_id


def threaded_run(configuration: type[BaseConfiguration]):
    """/rag and /chat: the conversation from the header (a one-off thread without it) and the caller's
    configuration when allowed."""

    def modify(config: dict, request: Request) -> dict:
        thread_id = thread_id_of(request) or f"ephemeral-{uuid.uuid4().hex}"
        given = client_configuration(config, request, configuration)
        return {**config, "configurable": {**given, "thread_id": thread_id}}

    return modify


def one_off_run(configuration: type[BaseConfiguration]):
    """/ask: one question, no memory."""

    def modify(config: dict, request: Request) -> dict:
        return {**config, "configurable": client_configuration(config, request, configuration)}

    return modify
