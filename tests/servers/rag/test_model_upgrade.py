"""Serve first, upgrade after: a RAG server started before the bundled chat model is installed answers
extractively, shows the model's preparation in /status, and switches to the model once it is installed — the
real llama.cpp model — without a restart; a preparation that fails leaves the extractive answerer running."""

from __future__ import annotations

import sys
import time

import pytest

import core.llm
import core.model_preparation
from core.local_model import LocalModelUnavailable
from core.model_preparation import PreparationRecord, prepare_local_model, read_preparation
from core.settings import get_settings
from tests.conftest import indexed_app

QUESTION = "Quanta proteína devo comer por dia?"


class FakeInstallation:
    """Whether the model's packages are there: absent until the test installs them."""

    def __init__(self):
        self.present = False

    def __call__(self, name: str) -> bool:
        return self.present


@pytest.fixture
def installation(monkeypatch):
    fake = FakeInstallation()
    monkeypatch.setattr(core.llm, "local_model_installed", fake)
    monkeypatch.setattr(core.model_preparation, "local_model_installed", fake)
    monkeypatch.setattr(core.model_preparation, "POLL_SECONDS", 0.05)
    return fake


@pytest.fixture
def auto_settings(settings, monkeypatch):
    monkeypatch.setenv("LLM_PROVIDER", "auto")
    monkeypatch.setenv("LLM_MAX_TOKENS", "24")
    get_settings.cache_clear()
    return get_settings()


def preparation(client) -> tuple[str, dict | None]:
    providers = client.get("/status").json()["providers"]
    return providers["llm"], providers["local_model_preparation"]


def ask(client, question: str = QUESTION) -> dict:
    response = client.post("/query", json={"question": question})
    assert response.status_code == 200, response.text
    return response.json()


def wait_for(condition, seconds: float = 180):
    deadline = time.monotonic() + seconds
    while not (found := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return found


def test_answers_extractively_while_the_model_is_prepared_then_switches_to_it(auto_settings, embeddings,
                                                                             installation):
    with indexed_app(auto_settings, embeddings) as client:
        llm, status = preparation(client)
        assert (llm, status["state"]) == ("extractive", "absent") and "make run" in status["message"]
        record = PreparationRecord(auto_settings)
        record.record("building", step="building llama.cpp", progress=0.42)
        llm, status = preparation(client)
        assert llm == "extractive"
        assert (status["state"], status["progress"], status["step"]) == ("building", 0.42, "building llama.cpp")
        assert status["log"].endswith("logs/local-model.log")
        assert ask(client)["llm_provider"] == "extractive"

        installation.present = True  # pip has installed it, but the preparation has not finished: not yet
        time.sleep(0.3)
        assert preparation(client)[0] == "extractive"

        record.record("ready", step="ready", progress=1.0)
        wait_for(lambda: preparation(client) == ("local", None))
        answer = ask(client, "Qual é a frequência de treino recomendada?")
        assert answer["llm_provider"] == "local"
        assert answer["answer"] and answer["sources"]
        assert client.get("/status").json()["providers"]["local_model"] == auto_settings.local_llm_model


def test_a_failed_preparation_keeps_the_extractive_answerer_and_says_why(auto_settings, embeddings, installation,
                                                                        monkeypatch):
    with indexed_app(auto_settings, embeddings) as client:
        PreparationRecord(auto_settings).record("failed", message="pip exited with status 1; see data/logs/x.log")
        llm, status = preparation(client)
        assert llm == "extractive"
        assert status["state"] == "failed" and "status 1" in status["message"] and status["log"]
        assert ask(client)["llm_provider"] == "extractive"

    def broken(*args, **kwargs):
        raise LocalModelUnavailable("The joined weights have sha256 0000, expected 1111")

    monkeypatch.setattr(core.model_preparation, "make_chat_model", broken)
    with indexed_app(auto_settings, embeddings) as client:
        installation.present = True  # installed after all, but its weights are damaged
        llm, status = wait_for(lambda: "sha256" in (found := preparation(client))[1]["message"] and found)
        assert (llm, status["state"]) == ("extractive", "failed") and "expected 1111" in status["message"]
        assert ask(client)["llm_provider"] == "extractive"


def test_a_started_server_with_the_model_installed_warms_it_before_the_first_question(settings, embeddings,
                                                                                   monkeypatch):
    monkeypatch.setenv("LLM_PROVIDER", "local")
    get_settings.cache_clear()
    with indexed_app(get_settings(), embeddings) as client:
        providers = wait_for(lambda: (found := client.get("/status").json()["providers"])["llm_loaded"] and found)
        assert (providers["llm"], providers["local_model_preparation"]) == ("local", None)


def test_the_preparation_records_the_build_progress_and_the_joined_model(settings):
    build = "print('Collecting llama-cpp-python'); print('[1/4] Building C object ggml.c.o'); print('[4/4] Linking')"
    assert prepare_local_model(settings, [sys.executable, "-c", build])
    record = read_preparation(settings)
    assert (record["state"], record["progress"]) == ("ready", 1.0)
    log = (settings.data_dir / "logs" / "local-model.log").read_text()
    assert "[4/4] Linking" in log and log.startswith("$ ")
    assert (settings.models_path / f"{settings.local_llm_model}-q4_k_m.gguf").is_file()


def test_a_failed_build_is_recorded_with_its_log(settings):
    assert not prepare_local_model(settings, [sys.executable, "-c", "print('error: cc1plus killed'); exit(3)"])
    record = read_preparation(settings)
    assert record["state"] == "failed"
    assert "status 3" in record["message"] and record["log"] in record["message"]


def test_a_preparation_whose_process_died_reads_as_failed(settings):
    record = PreparationRecord(settings)
    record.fields["pid"] = 2 ** 22 + 12345  # above Linux's pid_max: no such process
    record.record("building", step="building llama.cpp", progress=0.3)
    found = read_preparation(settings)
    assert found["state"] == "failed" and "stopped" in found["message"]
