"""The client's address: forwarded headers are believed only from a trusted proxy (TRUSTED_PROXIES)."""

from __future__ import annotations

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from servers.api.app import create_app
from servers.api.deps import client_ip
from servers.api.proxies import client_address, limit_key, trusted_networks
from tests.servers.api.conftest import PASSWORD

TRUSTED = "10.0.0.0/24, 2001:db8:ffff::1"


@pytest.mark.parametrize(("peer", "headers", "client"), [
    ("10.0.0.5", {"x-forwarded-for": "198.51.100.1, 203.0.113.7"}, "203.0.113.7"),  # the right-most untrusted
    ("10.0.0.5", {"x-forwarded-for": "203.0.113.7, 10.0.0.9"}, "203.0.113.7"),  # through two trusted proxies
    ("10.0.0.5", {"x-forwarded-for": "203.0.113.7:5123"}, "203.0.113.7"),
    ("10.0.0.5", {"forwarded": 'for=198.51.100.1;proto=https, for="[2001:db8::1]:4711"'}, "2001:db8::1"),
    ("2001:db8:ffff::1", {"x-forwarded-for": "203.0.113.7"}, "203.0.113.7"),
    ("10.0.0.5", {"x-forwarded-for": "203.0.113.7, unknown"}, "10.0.0.5"),  # the proxy could not tell
    ("10.0.0.5", {}, "10.0.0.5"),
    ("192.0.2.9", {"x-forwarded-for": "203.0.113.7"}, "192.0.2.9"),  # not a proxy of ours: the header is a lie
    ("192.0.2.9", {"forwarded": "for=203.0.113.7"}, "192.0.2.9"),
])
def test_client_address_trusts_forwarded_headers_only_from_a_trusted_proxy(peer, headers, client):
    assert client_address(peer, headers, trusted_networks(TRUSTED)) == client


def test_without_trusted_proxies_the_peer_is_the_client():
    assert client_address("127.0.0.1", {"x-forwarded-for": "203.0.113.7"}, trusted_networks("")) == "127.0.0.1"


def test_limits_count_an_ipv6_client_by_its_64():
    assert limit_key("2001:db8:1:2:aaaa::1") == limit_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert limit_key("::ffff:203.0.113.7") == limit_key("203.0.113.7") == "203.0.113.7"


@pytest.mark.parametrize("database_url", [None])
def test_a_bad_trusted_proxy_stops_the_start(api_settings):
    with pytest.raises(ValueError, match="TRUSTED_PROXIES: 'proxy.internal'"):
        create_app(api_settings.model_copy(update={"trusted_proxies": "10.0.0.1, proxy.internal"}))


def _app_showing_the_client(settings):
    app = create_app(settings)

    @app.get("/test-only/client")
    def show_client(request: Request) -> str:
        return client_ip(request)

    return app


@pytest.mark.parametrize("database_url", [None])
@pytest.mark.parametrize(("peer", "trusted_proxies", "client"), [
    ("10.0.0.5", "10.0.0.5", "203.0.113.7"),
    ("10.0.0.6", "10.0.0.5", "10.0.0.6"),
    ("10.0.0.5", "", "10.0.0.5"),
])
def test_the_api_server_honours_forwarded_headers_only_from_a_trusted_peer(api_settings, peer, trusted_proxies,
                                                                          client):
    app = _app_showing_the_client(api_settings.model_copy(update={"trusted_proxies": trusted_proxies}))
    with TestClient(app, client=(peer, 1234)) as api:
        assert api.get("/test-only/client", headers={"X-Forwarded-For": "203.0.113.7"}).json() == client


@pytest.mark.parametrize("database_url", [None])
@pytest.mark.parametrize(("peer", "statuses"), [("10.0.0.5", [201, 201]), ("192.0.2.9", [201, 429])])
def test_limits_follow_the_forwarded_client_only_behind_a_trusted_proxy(api_settings, peer, statuses):
    settings = api_settings.model_copy(update={"trusted_proxies": "10.0.0.5", "registrations_per_ip_per_hour": 1})
    with TestClient(create_app(settings), client=(peer, 1234)) as api:
        answers = [api.post("/auth/register", json={"email": f"aluna{n}@example.com", "password": PASSWORD},
                            headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code for n in (1, 2)]
    assert answers == statuses
