"""Password reset e-mails without an SMTP host: the link is logged on a developer's machine only."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from servers.api.app import create_app
from tests.servers.api.conftest import register


@pytest.mark.parametrize("database_url", [None])
@pytest.mark.parametrize(("environment", "logged"), [("development", True), ("test", False), ("production", False)])
def test_a_reset_link_is_logged_only_in_development(api_settings, caplog, environment, logged):
    assert api_settings.email_host is None
    with TestClient(create_app(api_settings.model_copy(update={"environment": environment}))) as api:
        register(api, "aluna@example.com")
        with caplog.at_level(logging.INFO):
            assert api.post("/auth/password-reset/request", json={"email": "aluna@example.com"}).status_code == 202
    assert ("redefinir-senha?token=" in caplog.text) is logged
    assert "aluna@example.com" in caplog.text  # either way the log says the e-mail was not sent
