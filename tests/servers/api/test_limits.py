"""Rate limits: logins nobody can use to lock the owner out, attempts counted before the password is checked,
and limits on registration, password changes and signed-in questions (429 with Retry-After)."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from servers.api.app import create_app
from servers.api.routes.auth import KNOWN_DEVICE_COOKIE
from tests.servers.api.conftest import PASSWORD

ADMIN = "admin@dnadaforca.com.br"
PROXY = ("10.0.0.5", 1234)
QUESTION = "Quantas repetições para hipertrofia?"


@pytest.fixture
def behind_proxy(api_settings):
    """The API server behind a reverse proxy (TRUSTED_PROXIES), which names each request's client."""
    settings = api_settings.model_copy(update={"trusted_proxies": PROXY[0]})
    with TestClient(create_app(settings), client=PROXY) as client:
        yield client


def attempt(client: TestClient, password: str, address: str, device_mark: str | None = None):
    headers = {"X-Forwarded-For": address}
    if device_mark:
        headers["Cookie"] = f"{KNOWN_DEVICE_COOKIE}={device_mark}"
    return client.post("/auth/login", data={"username": ADMIN, "password": password}, headers=headers)


def device_mark_of(response) -> str:
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Path=/auth/login" in cookie and "SameSite=strict" in cookie
    return re.search(rf"{KNOWN_DEVICE_COOKIE}=([^;]+)", cookie).group(1)


@pytest.mark.parametrize("database_url", [None])
def test_failures_from_another_address_never_lock_the_owner_out(behind_proxy):
    attacker = [attempt(behind_proxy, "senha-errada", "203.0.113.7").status_code for _ in range(8)]
    assert attacker == [401] * 5 + [429] * 3
    owner = attempt(behind_proxy, PASSWORD, "198.51.100.20")
    assert owner.status_code == 200, owner.text


@pytest.mark.parametrize("database_url", [None])
def test_guessing_from_many_addresses_holds_new_devices_but_not_the_owners_browser(behind_proxy, monkeypatch):
    monkeypatch.setattr(behind_proxy.app.state.settings, "login_attempts_per_account", 6)
    mark = device_mark_of(attempt(behind_proxy, PASSWORD, "198.51.100.20"))  # the owner logged in here before

    guesses = [attempt(behind_proxy, "senha-errada", f"203.0.113.{n}").status_code for n in range(1, 11)]
    assert guesses == [401] * 5 + [429] * 5  # one guess per address, held by the per-account limit

    new_device = attempt(behind_proxy, PASSWORD, "198.51.100.99")
    assert new_device.status_code == 429 and "new devices" in new_device.json()["detail"]
    owner = attempt(behind_proxy, PASSWORD, "192.0.2.44", device_mark=mark)  # the owner's browser, on another network
    assert owner.status_code == 200, owner.text


@pytest.mark.parametrize("database_url", [None])
def test_wrong_passwords_sent_at_once_are_each_counted(kv_backend, api, student, monkeypatch):
    monkeypatch.setattr(api.app.state.settings, "login_attempts_per_ip", 100)

    def wrong(_):
        return api.post("/auth/login", data={"username": student.email, "password": "senha-errada"}).status_code

    with ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(wrong, range(20)))
    assert sorted(statuses) == [401] * 5 + [429] * 15


@pytest.mark.parametrize("database_url", [None])
def test_a_right_password_clears_the_failures_of_its_client(api, student):
    for _ in range(4):
        assert api.post("/auth/login", data={"username": student.email, "password": "errada"}).status_code == 401
    assert api.post("/auth/login", data={"username": student.email, "password": PASSWORD}).status_code == 200
    statuses = [api.post("/auth/login", data={"username": student.email, "password": "errada"}).status_code
                for _ in range(6)]
    assert statuses == [401] * 5 + [429]


@pytest.mark.parametrize("database_url", [None])
def test_registrations_are_limited_per_address(api, monkeypatch):
    monkeypatch.setattr(api.app.state.settings, "registrations_per_ip_per_hour", 2)
    responses = [api.post("/auth/register", json={"email": f"aluna{n}@example.com", "password": PASSWORD})
                 for n in range(3)]
    assert [response.status_code for response in responses] == [201, 201, 429]
    refused = responses[-1]
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    assert refused.json()["detail"].startswith("Too many accounts created from this address; try again in ")


@pytest.mark.parametrize("database_url", [None])
def test_password_change_attempts_are_limited_per_user(api, student, monkeypatch):
    monkeypatch.setattr(api.app.state.settings, "password_changes_per_user_per_hour", 2)

    def change(current: str):
        return api.post("/auth/change-password", headers=student.headers,
                        json={"current_password": current, "new_password": "nova-senha-456"})

    assert [change("errada-1").status_code, change("errada-2").status_code] == [400, 400]
    refused = change(PASSWORD)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0


@pytest.mark.parametrize("database_url", [None])
def test_signed_in_questions_are_limited_per_user_per_minute(api, student, other_student, monkeypatch):
    monkeypatch.setattr(api.app.state.settings, "chat_per_user_per_minute", 2)
    asked = [api.post("/chat-auth", json={"message": QUESTION}, headers=student.headers).status_code,
             api.post("/chat", json={"message": QUESTION}, headers=student.headers).status_code]
    refused = api.post("/chat-auth", json={"message": QUESTION}, headers=student.headers)
    assert asked == [200, 200]
    assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["detail"].startswith("Too many questions in a minute; try again in ")
    assert api.post("/chat-auth", json={"message": QUESTION}, headers=other_student.headers).status_code == 200


@pytest.mark.parametrize("database_url", [None])
def test_signed_in_questions_are_limited_per_user_per_day(api, student, monkeypatch):
    monkeypatch.setattr(api.app.state.settings, "chat_per_user_per_day", 1)
    assert api.post("/chat", json={"message": QUESTION}, headers=student.headers).status_code == 200
    refused = api.post("/chat-auth", json={"message": QUESTION}, headers=student.headers)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 23 * 3600
    assert "daily limit" in refused.json()["detail"] and refused.json()["detail"].endswith("24 hours")
