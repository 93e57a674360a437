import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from servers.healthcheck import probe_host


@pytest.mark.parametrize("allowed", [["dnaforca.example.com", "localhost"], ["*.dnadaforca.com.br"], ["*"]])
def test_the_probe_sends_a_host_the_trusted_host_check_lets_through(allowed):
    app = Starlette(routes=[Route("/health", lambda request: PlainTextResponse("ok"))],
                    middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=allowed)])
    client = TestClient(app)
    assert client.get("/health", headers={"Host": probe_host(allowed)}).status_code == 200
    assert client.get("/health", headers={"Host": "rebinding.example.net"}).status_code == (200 if allowed == ["*"]
                                                                                            else 400)
