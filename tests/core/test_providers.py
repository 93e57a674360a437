"""Provider selection builds the configured LangChain classes and names a missing key."""

import pytest
from pydantic import SecretStr

from core.embeddings import embeddings_name, make_embeddings
from core.llm import make_chat_model
from core.local_model import LOCAL_MODELS, LocalModelUnavailable, ensure_local_model
from core.settings import Settings


def test_cloud_providers_are_built_from_their_settings():
    settings = Settings(_env_file=None, llm_provider="auto", embeddings_provider="auto",
                        openai_api_key=SecretStr("sk-x"), openai_base_url="http://127.0.0.1:9/v1", llm_max_tokens=99)
    chat, embeddings = make_chat_model(settings), make_embeddings(settings)
    assert type(chat).__name__ == "ChatOpenAI" and chat.openai_api_base == "http://127.0.0.1:9/v1"
    assert chat.extra_body == {"max_tokens": 99}
    assert embeddings_name(embeddings) == "OpenAIEmbeddings:text-embedding-3-small"

    settings = Settings(_env_file=None, llm_provider="gemini", embeddings_provider="gemini",
                        gemini_api_key=SecretStr("g"))
    assert type(make_chat_model(settings)).__name__ == "ChatGoogleGenerativeAI"
    assert embeddings_name(make_embeddings(settings)) == "GoogleGenerativeAIEmbeddings:models/text-embedding-004"


def test_a_provider_without_its_key_says_which_variable_is_missing():
    with pytest.raises(ValueError, match="GEMINI_API_KEY"):
        make_chat_model(Settings(_env_file=None, llm_provider="gemini"))
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        make_embeddings(Settings(_env_file=None, embeddings_provider="openai"))


def test_extractive_provider_has_no_model():
    assert make_chat_model(Settings(_env_file=None, llm_provider="extractive")) is None


def test_joined_weights_that_fail_the_checksum_are_refused(tmp_path, monkeypatch):
    parts = []
    for index in range(2):
        part = tmp_path / f"part{index}.bin"
        part.write_bytes(b"not the model" * 100)
        parts.append(part)
    monkeypatch.setattr("core.local_model._part_paths", lambda model: parts)

    with pytest.raises(LocalModelUnavailable, match="expected cc324af0"):
        ensure_local_model("qwen2.5-coder-1.5b", tmp_path / "models")
    assert list((tmp_path / "models").iterdir()) == []


def test_bundled_weights_join_to_the_published_checksum(tmp_path):
    from tests.conftest import MODELS_DIR

    path = ensure_local_model("qwen2.5-coder-1.5b", MODELS_DIR)
    stamp = path.with_suffix(".sha256").read_text().split()
    assert stamp == [LOCAL_MODELS["qwen2.5-coder-1.5b"].sha256, str(path.stat().st_size)]
    assert path.stat().st_size > 1_000_000_000


def test_the_warmed_local_model_keeps_the_answer_instructions_evaluated_and_answers_in_one_line(settings):
    from chains.prompts import ANSWER_PREFIX
    from core.llm import make_chat_model, warm_up

    model = make_chat_model(settings.model_copy(update={"llm_provider": "local"}), provider="local")
    warm_up(model, ANSWER_PREFIX)

    # llama.cpp keeps the last prompt evaluated and reuses the prefix the next one shares: the instructions
    instructions = model.client.tokenize(ANSWER_PREFIX.encode(), add_bos=False, special=True)
    held = list(model.client.input_ids[:model.client.n_tokens])
    assert len(held) > len(instructions) > 150
    assert any(held[start:start + len(instructions)] == instructions for start in range(8))

    answer = model.invoke("Liste três exercícios de pernas, um por linha.").content
    assert answer.strip() and "\n" not in answer.strip()
