"""LLM_PROVIDER=openai with OPENAI_BASE_URL, against llama.cpp's own OpenAI-compatible server."""

from __future__ import annotations

import subprocess
import sys

from core.llm import make_chat_model
from core.local_model import ensure_local_model
from tests.conftest import MODELS_DIR
from tests.support.processes import free_port, wait_until_up


def test_openai_provider_talks_to_a_local_openai_compatible_server(settings, tmp_path):
    model = ensure_local_model(settings.local_llm_model, MODELS_DIR)
    port = free_port()
    log = (tmp_path / "llama-server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "2048", "--n_batch", "512"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/v1/models", server)
        settings.llm_provider = "openai"
        settings.openai_base_url = f"http://127.0.0.1:{port}/v1"
        settings.llm_max_tokens = 8
        llm = make_chat_model(settings)

        reply = llm.invoke("Escreva um texto longo, com vários parágrafos, sobre treino de força.")
        tokens = [chunk.content for chunk in llm.stream("Diga 'olá' em português.")]
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()

    # llama.cpp's server ignores max_completion_tokens; the provider also sends max_tokens, which it honours.
    assert reply.response_metadata["finish_reason"] == "length"
    assert 0 < len(reply.content) < 80
    assert len(tokens) > 1 and "".join(tokens).strip()
