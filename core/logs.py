"""Logging of every process: JSON lines or text (LOG_FORMAT), each record carrying the request it serves.

A request's context (its id, and the user once known) lives in a context variable set by the servers' request
middleware and by a job when it starts; every record logged meanwhile carries it. Whatever a message says,
bearer tokens, JWTs, `token=`/`password=` values and passwords in URLs are masked before it is written: the
log is the last line of defence, not the first.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import uuid
from dataclasses import dataclass

from pythonjsonlogger.json import JsonFormatter

from core.settings import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
HANDLER_NAME = "dnaforca"
# A caller's X-Request-Id is kept when it looks like an id (so that it cannot forge log lines), else replaced.
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")
MASK = "[redacted]"
_SECRETS = (
    (re.compile(r"(?i)\b(bearer)\s+[^\s\"',;]+"), rf"\1 {MASK}"),
    (re.compile(r"\beyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]+"), MASK),  # a JWT anywhere
    (re.compile(r"(?i)\b((?:access_|refresh_|reset_)?token|password|secret|api_key|apikey)"
                r"(\"?\s*[=:]\s*\"?)[^\s\"'&,;}]+"), rf"\1\2{MASK}"),
    (re.compile(r"(://[^/\s:@]+:)[^@\s/]+@"), rf"\1{MASK}@"),  # user:password@host
)


@dataclass
class RequestContext:
    """What the log says about the request being served; the user is filled in once authenticated."""

    request_id: str
    user_id: str | None = None
    route: str | None = None


_context: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar("request_context", default=None)


def new_request_id(given: str | None = None) -> str:
    return given if given and REQUEST_ID_PATTERN.match(given) else uuid.uuid4().hex


def current_request() -> RequestContext | None:
    return _context.get()


def enter_request(context: RequestContext) -> contextvars.Token:
    return _context.set(context)


def leave_request(token: contextvars.Token) -> None:
    _context.reset(token)


def set_user(user_id: str) -> None:
    """The authenticated user of the request being served (the object is shared, so threads see it too)."""
    context = _context.get()
    if context is not None:
        context.user_id = user_id


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class _ContextFilter(logging.Filter):
    """Adds the request's id, user and route to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _context.get()
        if context is not None:
            record.request_id = getattr(record, "request_id", None) or context.request_id
            if context.user_id and not getattr(record, "user_id", None):
                record.user_id = context.user_id
            if context.route and not getattr(record, "route", None):
                record.route = context.route
        return True


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        return redact(f"{line} [request {request_id}]" if request_id else line)


class _JsonFormatter(JsonFormatter):
    def process_log_record(self, log_data: dict) -> dict:
        # Every text field (the message and the traceback included) is masked before it is serialized.
        return {key: redact(value) if isinstance(value, str) else value for key, value in log_data.items()}


def configure_logging(settings: Settings) -> None:
    """Route every logger (uvicorn's and Huey's included) through one handler on standard error, in the format
    LOG_FORMAT names. Our access line (servers/observability.py) replaces uvicorn's."""
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(_JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            timestamp=False,
        ))
    else:
        handler.setFormatter(_TextFormatter(TEXT_FORMAT))
    handler.addFilter(_ContextFilter())
    handler.set_name(HANDLER_NAME)
    root = logging.getLogger()
    for existing in list(root.handlers):
        # Ours from an earlier call, and basicConfig's; others (a test runner's capture) stay.
        if existing.get_name() == HANDLER_NAME or type(existing) is logging.StreamHandler:
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    for name in ("uvicorn", "uvicorn.error", "huey"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False
    access.disabled = True
