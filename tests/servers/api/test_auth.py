"""Accounts: registration, login limits, token refresh and revocation, password change and reset by e-mail."""

from __future__ import annotations

import email
import email.policy
import os
import re
import subprocess
import sys
import time

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from servers.api.app import create_app
from tests.conftest import REPO
from tests.servers.api.conftest import PASSWORD, login, register
from tests.support.processes import free_port


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_register_login_me(api):
    account = register(api, "Maria.Silva@Example.com")
    me = api.get("/auth/me", headers=account.headers).json()
    assert me["email"] == "maria.silva@example.com" and me["role"] == "student" and me["is_active"]
    again = api.post("/auth/register", json={"email": "maria.silva@example.com", "password": PASSWORD})
    assert again.status_code == 409


@pytest.mark.parametrize("database_url", [None])
def test_password_over_72_bytes_is_refused_not_truncated(api):
    # 36 two-byte characters are 72 bytes (accepted); one more is 74 bytes.
    accepted, refused = "é" * 36, "é" * 37
    assert api.post("/auth/register", json={"email": "a@example.com", "password": accepted}).status_code == 201
    response = api.post("/auth/register", json={"email": "b@example.com", "password": refused})
    assert response.status_code == 422 and "72 bytes" in response.text
    # bcrypt would have matched a longer password on its first 72 bytes: the login refuses it instead.
    assert api.post("/auth/login", data={"username": "a@example.com", "password": accepted + "x"}).status_code == 401
    assert api.post("/auth/register", json={"email": "c@example.com", "password": "curta"}).status_code == 422


def test_login_is_limited_per_account_and_client(api, student):
    for _ in range(5):
        assert api.post("/auth/login", data={"username": student.email, "password": "errada"}).status_code == 401
    blocked = api.post("/auth/login", data={"username": student.email, "password": PASSWORD})
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert blocked.json()["detail"].startswith("Too many failed logins to this account from this device; try again in")
    # Another account from the same address is not blocked by it.
    other = register(api, "outra@example.com")
    assert other.token


@pytest.mark.parametrize("database_url", [None])
def test_login_is_limited_per_ip(api, monkeypatch):
    monkeypatch.setattr(api.app.state.settings, "login_attempts_per_ip", 3)
    statuses = [api.post("/auth/login", data={"username": f"u{n}@example.com", "password": "x" * 8}).status_code
                for n in range(4)]
    assert statuses == [401, 401, 401, 429]


def test_refresh_rotates_and_a_replay_is_refused(api, student):
    renewed = api.post("/auth/refresh", json={"refresh_token": student.refresh_token})
    assert renewed.status_code == 200
    assert api.get("/auth/me", headers=bearer(renewed.json()["access_token"])).status_code == 200
    replay = api.post("/auth/refresh", json={"refresh_token": student.refresh_token})
    assert replay.status_code == 401 and "already used" in replay.json()["detail"]
    access_as_refresh = api.post("/auth/refresh", json={"refresh_token": student.token})
    assert access_as_refresh.status_code == 401


def test_logout_revokes_the_access_and_refresh_tokens(api, student):
    logout = api.post("/auth/logout", headers=student.headers, json={"refresh_token": student.refresh_token})
    assert logout.status_code == 200
    refused = api.get("/auth/me", headers=student.headers)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    assert api.post("/auth/refresh", json={"refresh_token": student.refresh_token}).status_code == 401


def test_bad_tokens_are_refused(api, student, api_settings):
    from servers.api.security import Tokens

    forged = Tokens(api_settings.model_copy(update={"jwt_secret_key": api_settings.jwt_secret_key.__class__("x" * 40)}))
    token, _ = forged.issue(student.id, "access")
    for headers in (bearer(token), bearer("not-a-jwt"), bearer(student.refresh_token)):
        assert api.get("/auth/me", headers=headers).status_code == 401


def test_change_password_ends_older_sessions(api, student):
    wrong = api.post("/auth/change-password", headers=student.headers,
                     json={"current_password": "errada-123", "new_password": "nova-senha-456"})
    assert wrong.status_code == 400
    time.sleep(0.01)
    changed = api.post("/auth/change-password", headers=student.headers,
                       json={"current_password": PASSWORD, "new_password": "nova-senha-456"})
    assert changed.status_code == 200
    assert api.get("/auth/me", headers=student.headers).status_code == 401
    assert api.post("/auth/refresh", json={"refresh_token": student.refresh_token}).status_code == 401
    assert login(api, student.email, "nova-senha-456").token


def test_deactivated_and_deleted_accounts_lose_access(api, admin, student):
    assert api.patch(f"/users/{student.id}", headers=admin.headers, json={"is_active": False}).status_code == 200
    assert api.get("/auth/me", headers=student.headers).status_code == 403
    assert api.post("/auth/login", data={"username": student.email, "password": PASSWORD}).status_code == 403
    assert api.delete(f"/users/{student.id}", headers=admin.headers).status_code == 204
    assert api.get("/auth/me", headers=student.headers).status_code == 401


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's handler protocol)
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(monkeypatch):
    """A real SMTP server (aiosmtpd) on a free port; the API server sends to it."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("EMAIL_HOST", "127.0.0.1")
    monkeypatch.setenv("EMAIL_PORT", str(port))
    monkeypatch.setenv("EMAIL_USE_TLS", "false")
    yield inbox
    controller.stop()


def test_password_reset_by_email(smtp_server, api_settings, student_email="aluna@example.com"):
    with TestClient(create_app(api_settings)) as api:
        account = register(api, student_email)
        for address in (student_email, "ninguem@example.com"):  # the same answer either way
            response = api.post("/auth/password-reset/request", json={"email": address})
            assert response.status_code == 202
        assert len(smtp_server.messages) == 1
        envelope = smtp_server.messages[0]
        assert envelope.rcpt_tos == [student_email]
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert message["Subject"] == "Redefinição de senha — DNA da Força"
        body = message.get_content()
        assert "Olá, Aluna" in body
        token = re.search(r"/redefinir-senha\?token=([\w.-]+)", body).group(1)

        confirmed = api.post("/auth/password-reset/confirm", json={"token": token, "new_password": "outra-senha-789"})
        assert confirmed.status_code == 200, confirmed.text
        assert api.get("/auth/me", headers=account.headers).status_code == 401  # older sessions end
        assert login(api, student_email, "outra-senha-789").token
        again = api.post("/auth/password-reset/confirm", json={"token": token, "new_password": "terceira-senha"})
        assert again.status_code == 400 and "already used" in again.json()["detail"]


@pytest.mark.parametrize("database_url", [None])
def test_a_token_signed_with_the_old_published_secret_is_refused(api, admin):
    from jose import jwt

    claims = jwt.get_unverified_claims(admin.token)
    forged = jwt.encode(claims, "change-me-in-production", algorithm="HS256")
    assert api.get("/users", headers=bearer(forged)).status_code == 401
    assert api.get("/users", headers=admin.headers).status_code == 200


@pytest.mark.parametrize("database_url", [None])
def test_without_a_jwt_secret_one_is_generated_kept_private_and_reused(api_settings, admin):
    settings = api_settings.model_copy(update={"jwt_secret_key": None})
    with TestClient(create_app(settings)) as first:
        token = login(first, "admin@dnadaforca.com.br").token
    secret_file = settings.secrets_path / "jwt-secret"
    assert secret_file.stat().st_mode & 0o777 == 0o600 and len(secret_file.read_text()) >= 32
    with TestClient(create_app(settings)) as restarted:  # a restart (or another process) reads the same secret
        assert restarted.get("/auth/me", headers=bearer(token)).status_code == 200


@pytest.mark.parametrize("database_url", [None])
def test_first_admin_from_the_cli(api_settings):
    environment = {"DATA_DIR": str(api_settings.data_dir), "ADMIN_PASSWORD": "admin-cli-senha"}
    result = subprocess.run([sys.executable, "-m", "servers.cli", "create-admin", "Chefe@Example.com"], cwd=REPO,
                            env={**os.environ, **environment}, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    with TestClient(create_app(api_settings)) as api:
        chief = login(api, "chefe@example.com", "admin-cli-senha")
        assert api.get("/auth/me", headers=chief.headers).json()["role"] == "admin"
        assert api.get("/users", headers=chief.headers).status_code == 200


def reset_token(api: TestClient, inbox: Inbox, address: str) -> str:
    """Ask for a reset link and read its token from the e-mail that arrives."""
    assert api.post("/auth/password-reset/request", json={"email": address}).status_code == 202
    message = email.message_from_bytes(inbox.messages[-1].content, policy=email.policy.default)
    return re.search(r"/redefinir-senha\?token=([\w.-]+)", message.get_content()).group(1)


def confirm_reset(api: TestClient, token: str, password: str = "outra-senha-789"):
    return api.post("/auth/password-reset/confirm", json={"token": token, "new_password": password})


def test_a_reset_link_dies_when_the_password_is_changed(smtp_server, api, student):
    token = reset_token(api, smtp_server, student.email)
    time.sleep(0.01)
    changed = api.post("/auth/change-password", headers=student.headers,
                       json={"current_password": PASSWORD, "new_password": "nova-senha-456"})
    assert changed.status_code == 200
    replay = confirm_reset(api, token)
    assert replay.status_code == 400 and "password changed" in replay.json()["detail"]
    assert login(api, student.email, "nova-senha-456").token  # the link changed nothing


def test_a_reset_link_dies_when_an_admin_sets_the_password(smtp_server, api, admin):
    from servers.api.accounts import ensure_admin

    token = reset_token(api, smtp_server, admin.email)
    time.sleep(0.01)
    with api.app.state.sessions() as session:  # what `dnaforca create-admin` does to an existing account
        assert ensure_admin(session, admin.email, "definida-pelo-admin", update_existing=True)
    assert confirm_reset(api, token).status_code == 400
    assert login(api, admin.email, "definida-pelo-admin").token


def test_only_the_newest_reset_link_works(smtp_server, api, student):
    older = reset_token(api, smtp_server, student.email)
    newer = reset_token(api, smtp_server, student.email)
    refused = confirm_reset(api, older)
    assert refused.status_code == 400 and "Invalid reset link" in refused.json()["detail"]
    assert confirm_reset(api, newer).status_code == 200
    assert login(api, student.email, "outra-senha-789").token
