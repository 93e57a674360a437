"""`python -m servers.healthcheck rag|api`: the containers' HEALTHCHECK. Exit 0 when the server on this machine
answers GET /health with 200, 1 otherwise (with the reason on stderr).

It asks with a Host header the server accepts (the first of ALLOWED_HOSTS), so that a deployment that allows
only its public name still passes its own health check.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

from core.settings import Settings


def probe_host(allowed_hosts: list[str]) -> str:
    """A Host header that TrustedHostMiddleware lets through: a wildcard `*.example.com` stands for any of its
    subdomains, `*` for any host."""
    first = allowed_hosts[0] if allowed_hosts else "localhost"
    if first == "*":
        return "localhost"
    return first.replace("*.", "health.", 1)


def main(server: str) -> int:
    settings = Settings()
    port = {"rag": settings.rag_port, "api": settings.api_port}[server]
    request = urllib.request.Request(f"http://127.0.0.1:{port}/health",
                                     headers={"Host": probe_host(settings.allowed_hosts)})
    try:
        with urllib.request.urlopen(request, timeout=4) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as error:
        print(f"{server} server on port {port}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("rag", "api"):
        sys.exit("usage: python -m servers.healthcheck rag|api")
    sys.exit(main(sys.argv[1]))
