"""Chat through the API server: JSON and SSE answers, private conversations, serialized turns, RAG outages."""

from __future__ import annotations

import json
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from core.contracts import StreamEvent
from servers.api.app import create_app
from tests.support.processes import free_port

QUESTION = "Quantas repetições para hipertrofia?"
SSE = {"Accept": "text/event-stream"}


def sse_events(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
        if "event" in lines:
            events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_chat_answers_anonymously_with_sources(api):
    response = api.post("/chat", json={"message": QUESTION})
    assert response.status_code == 200
    body = response.json()
    assert "6 a 12 repetições" in body["answer"]
    assert body["sources"][0]["source"] == "fundamentos-do-treino-de-forca.pdf"


@pytest.mark.parametrize("database_url", [None])
def test_anonymous_chat_is_rate_limited_per_ip(api, student, monkeypatch):
    monkeypatch.setattr(api.app.state.settings, "anonymous_chat_per_minute", 2)
    statuses = [api.post("/chat", json={"message": QUESTION}).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert api.post("/chat", json={"message": QUESTION}, headers=student.headers).status_code == 200


@pytest.mark.parametrize("database_url", [None])
def test_chat_streams_server_sent_events(api):
    response = api.post("/chat", json={"message": QUESTION}, headers=SSE)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-accel-buffering"] == "no" and response.headers["cache-control"] == "no-cache"
    events = sse_events(response.text)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "sources" and kinds[-1] == "done" and "token" in kinds and "error" not in kinds
    answer = "".join(data["text"] for kind, data in events if kind == "token")
    assert answer == events[-1][1]["answer"] and "6 a 12 repetições" in answer


def test_conversation_is_kept_and_private(api, student, other_student):
    first = api.post("/chat-auth", json={"message": QUESTION}, headers=student.headers)
    assert first.status_code == 200
    conversation_id = first.json()["conversation_id"]
    streamed = api.post("/chat-auth", json={"message": "E para força máxima?", "conversation_id": conversation_id},
                        headers={**student.headers, **SSE})
    done = [data for kind, data in sse_events(streamed.text) if kind == "done"][0]
    assert done["conversation_id"] == conversation_id

    history = api.get(f"/conversations/{conversation_id}", headers=student.headers).json()
    assert history["title"] == QUESTION
    assert [(m["role"], m["content"][:20]) for m in history["messages"]] == [
        ("user", QUESTION[:20]), ("assistant", first.json()["answer"][:20]),
        ("user", "E para força máxima?"), ("assistant", done["answer"][:20])]
    assert history["messages"][1]["sources"]

    # Another student can neither read nor continue it, nor see it listed.
    assert api.get(f"/conversations/{conversation_id}", headers=other_student.headers).status_code == 404
    hijack = api.post("/chat-auth", json={"message": "oi", "conversation_id": conversation_id},
                      headers=other_student.headers)
    assert hijack.status_code == 404
    assert api.get("/conversations", headers=other_student.headers).json() == []

    assert api.patch(f"/conversations/{conversation_id}", json={"title": "Hipertrofia"},
                     headers=student.headers).json()["title"] == "Hipertrofia"
    assert [c["id"] for c in api.get("/conversations", headers=student.headers).json()] == [conversation_id]
    assert api.delete(f"/conversations/{conversation_id}", headers=student.headers).status_code == 204
    assert api.get(f"/conversations/{conversation_id}", headers=student.headers).status_code == 404


def test_two_messages_at_once_are_both_kept_in_order(api, student):
    conversation_id = api.post("/conversations", json={"title": "Treino"}, headers=student.headers).json()["id"]
    questions = ["Quanto tempo devo dormir por noite?", "Quanta proteína por dia?"]
    with ThreadPoolExecutor(2) as pool:
        responses = list(pool.map(lambda question: api.post(
            "/chat-auth", json={"message": question, "conversation_id": conversation_id}, headers=student.headers),
            questions))
    assert [response.status_code for response in responses] == [200, 200]
    messages = api.get(f"/conversations/{conversation_id}", headers=student.headers).json()["messages"]
    assert [message["role"] for message in messages] == ["user", "assistant", "user", "assistant"]
    assert {message["content"] for message in messages[0::2]} == set(questions)
    # Each answer follows its own question (a turn ran whole before the next began).
    answers = {response.json()["message_id"]: response.json()["answer"] for response in responses}
    assert {messages[1]["id"], messages[3]["id"]} == set(answers)


@pytest.fixture
def api_without_rag(api_settings):
    settings = api_settings.model_copy(update={"rag_server_url": f"http://127.0.0.1:{free_port()}"})
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.mark.parametrize("database_url", [None])
def test_rag_server_down_is_503_with_a_clear_message(api_without_rag):
    from tests.servers.api.conftest import login, register

    student = register(api_without_rag, "aluna@example.com")
    for path, headers in (("/chat", {}), ("/chat", SSE), ("/chat-auth", {**student.headers, **SSE})):
        response = api_without_rag.post(path, json={"message": QUESTION}, headers=headers)
        assert response.status_code == 503, (path, response.text)
        assert "RAG server" in response.json()["detail"] and "unreachable" in response.json()["detail"]
    assert api_without_rag.get("/status").json()["status"] == "degraded"
    admin = login(api_without_rag, "admin@dnadaforca.com.br")
    status = api_without_rag.get("/status", headers=admin.headers).json()
    assert status["degraded"] == ["rag_server"] and status["checks"]["rag_server"].startswith("unreachable")


def _dying_rag_server(port: int, ready: threading.Event) -> None:
    """Answers one turn stream with its sources, then drops the connection mid-answer."""
    chunk = f"event: data\r\ndata: {json.dumps({StreamEvent.SOURCES.value: []})}\r\n\r\n".encode()
    with socket.create_server(("127.0.0.1", port)) as server:
        ready.set()
        connection, _ = server.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                               b"transfer-encoding: chunked\r\n\r\n" + f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")


@pytest.mark.parametrize("database_url", [None])
def test_rag_server_dying_mid_stream_ends_with_an_error_event(api_settings):
    port = free_port()
    ready = threading.Event()
    threading.Thread(target=_dying_rag_server, args=(port, ready), daemon=True).start()
    ready.wait(5)
    settings = api_settings.model_copy(update={"rag_server_url": f"http://127.0.0.1:{port}"})
    with TestClient(create_app(settings)) as api:
        response = api.post("/chat", json={"message": QUESTION}, headers=SSE)
    assert response.status_code == 200
    events = sse_events(response.text)
    assert [kind for kind, _ in events] == ["sources", "error"]
    assert events[-1][1]["status"] == 503 and "RAG server" in events[-1][1]["detail"]
