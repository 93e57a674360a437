"""The LangServe chat playground, driven in Debian's headless Chromium, answers from the local model."""

from __future__ import annotations

import json
import shutil
import subprocess

from tests.conftest import REPO, require

E2E = REPO / "tests" / "e2e"


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
