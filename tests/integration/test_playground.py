"""The RAG server's playgrounds in Debian's headless Chromium: the chat playground answers from the local model
and shows the answer's sources; the /rag playground opens with a playground pass, whose holder may change the
answer prompt."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.conftest import REPO, SERVICE_TOKEN, require
from tests.integration.conftest import rag_server_on_echo_model
from tests.integration.test_chat_page import SCREENS

E2E = REPO / "tests" / "e2e"


def run_script(*arguments: str) -> dict:
    completed = subprocess.run(["node", *arguments], cwd=E2E, capture_output=True, text=True, timeout=240)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


@pytest.fixture(scope="module")
def echo_rag_server(tmp_path_factory):
    require(shutil.which("chromium") is not None, "Debian's chromium is not installed")
    require((E2E / "node_modules" / "playwright-core").is_dir(), "run `npm ci` in tests/e2e")
    with rag_server_on_echo_model(tmp_path_factory.mktemp("playgrounds"), delay=0.5) as (url, _):
        yield url


def test_chat_playground_answers_a_question_in_chromium(rag_server, tmp_path):
    require(shutil.which("chromium") is not None, "Debian's chromium is not installed")
    require((E2E / "node_modules" / "playwright-core").is_dir(), "run `npm ci` in tests/e2e")
    screenshot = tmp_path / "playground.png"

    completed = subprocess.run(
        ["node", "chat_playground.mjs", f"{rag_server}/chat-playground/playground/",
         "Quanta proteína devo comer por dia?", "gramas", str(screenshot)],
        cwd=E2E, capture_output=True, text=True, timeout=240,
    )

    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert result["answered"], result
    assert result["stream_statuses"] == [200]
    assert screenshot.stat().st_size > 10_000


def test_chat_playground_shows_the_sources_of_an_answer(echo_rag_server):
    SCREENS.mkdir(parents=True, exist_ok=True)
    screenshot = SCREENS / "chat-playground-sources.png"

    result = run_script("chat_playground.mjs", f"{echo_rag_server}/chat-playground/playground/",
                        "Quanta proteína devo comer por dia?", "Fontes:", str(screenshot))

    assert result["answered"], result
    sources = result["text"].split("Fontes:", 1)[1]
    assert "[1] guia-nutricao-e-recuperacao.docx, seção" in sources
    assert screenshot.stat().st_size > 10_000


def test_rag_playground_opens_with_a_playground_pass_that_may_change_the_prompt(echo_rag_server):
    SCREENS.mkdir(parents=True, exist_ok=True)
    screenshot = SCREENS / "rag-playground.png"
    prompt = "Responda como um treinador exigente.\n\n{context}"

    report = run_script("rag_playground.mjs", echo_rag_server, SERVICE_TOKEN, prompt, str(screenshot))

    assert "error" not in report, report["error"]
    assert report["without_pass"] == 401
    assert report["page_errors"] == []  # both playgrounds draw their forms (a nullable field left them blank)
    assert report["wrong_token"] == "Token incorreto."
    assert report["cookie"] == [{"name": "dnaforca_playground", "httpOnly": True, "sameSite": "Strict"}]
    assert report["invoke"]["status"] == 200
    # The echo model repeats the first line of the prompt it got: the playground's prompt reached the graph.
    assert "Responda como um treinador exigente." in report["invoke"]["body"]["output"]["answer"]
    assert report["data_route"] == 401  # the pass opens the playgrounds, never the stored data
    assert screenshot.stat().st_size > 10_000
