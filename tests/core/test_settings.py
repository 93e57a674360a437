from pathlib import Path

import pytest
from pydantic import ValidationError

from core.settings import Settings
from tests.conftest import REPO


def test_data_dir_roots_all_local_state_unless_overridden(monkeypatch):
    monkeypatch.setenv("DATA_DIR", "/srv/dna")
    settings = Settings(_env_file=None)
    assert (settings.chroma_path, settings.materials_path, settings.catalog_path) == (
        Path("/srv/dna/chroma"), Path("/srv/dna/materials"), Path("/srv/dna/catalog.sqlite3"))

    monkeypatch.setenv("CHROMA_PERSIST_DIR", "/var/chroma")
    monkeypatch.setenv("MATERIALS_DIR", "/mnt/drive")
    settings = Settings(_env_file=None)
    assert (settings.chroma_path, settings.materials_path) == (Path("/var/chroma"), Path("/mnt/drive"))


def test_cors_origins_accept_a_comma_separated_list(monkeypatch):
    monkeypatch.setenv("CORS_ORIGINS", "https://app.dnadaforca.com.br, http://localhost:5173")
    assert Settings(_env_file=None).cors_origins == ["https://app.dnadaforca.com.br", "http://localhost:5173"]


def test_env_example_documents_every_setting():
    documented = (REPO / "env.example").read_text()
    assert [name.upper() for name in Settings.model_fields if name.upper() not in documented] == []


def test_env_example_shows_every_default_it_sets(monkeypatch):
    # "every setting, with its default": a copied env.example must behave as no settings at all.
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    example, default = Settings(_env_file=REPO / "env.example"), Settings(_env_file=None)

    assert {name: getattr(example, name) for name in Settings.model_fields
            if getattr(example, name) != getattr(default, name)} == {}


def test_auto_providers_prefer_openai_then_gemini_then_local(monkeypatch):
    from core.embeddings import resolve_embeddings_provider
    from core.llm import resolve_llm_provider

    for variable in ("LLM_PROVIDER", "EMBEDDINGS_PROVIDER"):
        monkeypatch.setenv(variable, "auto")
    assert resolve_embeddings_provider(Settings(_env_file=None)) == "local"
    assert resolve_llm_provider(Settings(_env_file=None)) == "local"  # the bundled model is installed
    monkeypatch.setenv("GEMINI_API_KEY", "g")
    assert resolve_llm_provider(Settings(_env_file=None)) == "gemini"
    monkeypatch.setenv("OPENAI_API_KEY", "o")
    assert resolve_embeddings_provider(Settings(_env_file=None)) == "openai"


@pytest.mark.parametrize("variable", ["JWT_SECRET_KEY", "RAG_SERVICE_TOKEN"])
@pytest.mark.parametrize("value", ["change-me-in-production", "CHANGE-ME", "segredo", "short-but-random-9f3a"])
def test_published_or_short_secrets_are_refused_in_every_environment(monkeypatch, variable, value):
    for environment in ("development", "test", "production"):
        monkeypatch.setenv("ENVIRONMENT", environment)
        monkeypatch.setenv(variable, value)
        with pytest.raises(ValidationError, match=variable):
            Settings(_env_file=None)


def test_unset_secrets_are_generated_once_per_data_dir_with_private_permissions(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path, rag_service_token=None, jwt_secret_key=None)
    token, key = settings.service_token(), settings.jwt_key()
    again = Settings(_env_file=None, data_dir=tmp_path, rag_service_token=None, jwt_secret_key=None)
    assert (again.service_token(), again.jwt_key()) == (token, key) and token != key and len(token) >= 32
    for name in ("rag-service-token", "jwt-secret"):
        assert (tmp_path / "secrets" / name).stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "secrets").stat().st_mode & 0o777 == 0o700
    other = Settings(_env_file=None, data_dir=tmp_path / "elsewhere", rag_service_token=None)
    assert other.service_token() != token


def test_the_default_environment_is_production(monkeypatch):
    monkeypatch.delenv("ENVIRONMENT")
    assert Settings(_env_file=None).environment == "production"
