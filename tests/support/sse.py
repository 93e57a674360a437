"""Reading the API server's streamed answers (Server-Sent Events) the way a frontend does."""

from __future__ import annotations

import json

import httpx


def stream_chat(client: httpx.Client, body: dict, token: str, path: str = "/chat-auth") -> list[tuple[str, dict]]:
    """The (event, data) pairs of one streamed answer."""
    events, kind = [], None
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    with client.stream("POST", path, json=body, headers=headers) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["x-accel-buffering"] == "no"
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((kind, json.loads(line.removeprefix("data: "))))
    return events
