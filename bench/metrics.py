"""What observability costs a request: the same FastAPI app with and without servers/observability.py (request id,
count and latency by route template, one JSON access line written to a file), requests sent alternately to both
in one run, straight through ASGI so that no network noise hides the difference.

    .venv/bin/python bench/metrics.py [--requests 20000]

Prints p50/p95 per request of each, the added p50 (target: at most 0.5 ms) and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi import FastAPI  # noqa: E402

from core.logs import configure_logging  # noqa: E402
from core.settings import Settings  # noqa: E402
from servers.observability import RequestObservability  # noqa: E402

TARGET_MS = 0.5


def make_app(instrumented: bool) -> FastAPI:
    app = FastAPI()

    @app.get("/materials/{material_id}")
    async def material(material_id: str) -> dict:
        return {"id": material_id, "status": "indexed"}

    if instrumented:
        app.add_middleware(RequestObservability)
    return app


async def call(app, path: str) -> None:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"127.0.0.1")], "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}
    messages = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message):
        return None

    await app(scope, receive, send)


async def measure(requests: int) -> dict[str, list[float]]:
    apps = {"without": make_app(False), "with": make_app(True)}
    for app in apps.values():  # build the middleware stacks and warm the route tables
        for index in range(200):
            await call(app, f"/materials/{index}")
    timings: dict[str, list[float]] = {name: [] for name in apps}
    for index in range(requests):
        for name, app in apps.items() if index % 2 else reversed(apps.items()):
            started = time.perf_counter()
            await call(app, f"/materials/{index}")
            timings[name].append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        log_file = Path(folder) / "access.log"
        with log_file.open("w") as stream:
            sys.stderr, real_stderr = stream, sys.stderr  # configure_logging writes to the standard error
            try:
                configure_logging(Settings(log_format="json", log_level="INFO"))
                timings = asyncio.run(measure(arguments.requests))
            finally:
                sys.stderr = real_stderr
        lines = sum(1 for _ in log_file.open())
    p50 = {name: statistics.median(values) for name, values in timings.items()}
    p95 = {name: statistics.quantiles(values, n=20)[18] for name, values in timings.items()}
    added = p50["with"] - p50["without"]
    print(f"{arguments.requests} requests each, alternating; {lines} JSON access lines written")
    for name in ("without", "with"):
        print(f"  {name:>7} instrumentation: p50 {p50[name]:.3f} ms, p95 {p95[name]:.3f} ms")
    verdict = "within" if added <= TARGET_MS else "OVER"
    print(f"  added p50: {added:.3f} ms per request ({verdict} the {TARGET_MS} ms target); "
          f"ratio with/without: {p50['with'] / p50['without']:.2f}x")


if __name__ == "__main__":
    main()
