"""Log lines: JSON or text, the request's context on each, secrets masked whatever the message says."""

from __future__ import annotations

import json
import logging

import pytest

from core.logs import RequestContext, configure_logging, enter_request, leave_request, redact, set_user

SECRETS = [
    ("Authorization: Bearer abc.def-123", "abc.def-123"),
    ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXNpZ25l seen", "eyJhbGciOiJIUzI1NiJ9"),
    ("link http://localhost:3000/reset-password?token=s3cr3t-value&x=1", "s3cr3t-value"),
    ('{"password": "hunter2-long"}', "hunter2-long"),
    ("refresh_token=rt-9876 expired", "rt-9876"),
    ("postgresql://app:pg-pass-1@db:5432/app", "pg-pass-1"),
]


@pytest.mark.parametrize(("message", "secret"), SECRETS)
def test_secrets_are_masked_in_any_message(message, secret):
    assert secret not in redact(message) and "[redacted]" in redact(message)


def test_plain_messages_are_left_alone():
    message = "GET /jobs/4f2a 404 3.1 ms; 5 materials indexed (token count 12 is not a token=)"
    assert redact("GET /jobs/4f2a 404 3.1 ms") == "GET /jobs/4f2a 404 3.1 ms"
    assert "5 materials indexed" in redact(message)


@pytest.fixture
def json_logging(settings, monkeypatch):
    """Call it in the test (the handler writes to the standard error of that moment, which capfd captures)."""
    from core.settings import get_settings

    monkeypatch.setenv("LOG_FORMAT", "json")
    get_settings.cache_clear()
    yield lambda: configure_logging(get_settings())
    monkeypatch.setenv("LOG_FORMAT", "text")
    get_settings.cache_clear()
    configure_logging(get_settings())


def test_json_lines_carry_level_logger_request_and_user(json_logging, capfd):
    json_logging()
    token = enter_request(RequestContext("req-7"))
    try:
        set_user("user-42")
        logging.getLogger("dnaforca.test").warning("Answered with password=%s", "p4ss-w0rd-x")
    finally:
        leave_request(token)
    logging.getLogger("dnaforca.test").error("outside any request")
    first, second = (json.loads(line) for line in capfd.readouterr().err.strip().splitlines())
    assert {key: first[key] for key in ("level", "logger", "request_id", "user_id")} == {
        "level": "WARNING", "logger": "dnaforca.test", "request_id": "req-7", "user_id": "user-42"}
    assert "p4ss-w0rd-x" not in first["message"] and first["time"]
    assert second["level"] == "ERROR" and "request_id" not in second


def test_tracebacks_are_masked_too(json_logging, capfd):
    json_logging()
    try:
        raise RuntimeError("could not call with Bearer tok-123456")
    except RuntimeError:
        logging.getLogger("dnaforca.test").exception("failed")
    line = json.loads(capfd.readouterr().err.strip())
    assert "tok-123456" not in json.dumps(line) and "RuntimeError" in json.dumps(line)
