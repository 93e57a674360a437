"""The deployment files checked the way their tools check them (hadolint, the compose-spec and GitHub workflow
schemas, shellcheck), and checked against each other: every variable they set is a setting the servers read,
every variable Compose interpolates is documented, and the design document's `.env` is read under its names.
`make test-containers` builds and runs them for real."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from core.settings import Settings
from tests.conftest import REPO

BIN = Path(sys.executable).parent
COMPOSE_FILES = ["docker-compose.yml", "docker-compose.override.yml", "compose.scale.yml",
                 "tests/containers/compose.test.yml"]
# Set for the build or the platform, not read by the servers.
NOT_SETTINGS = {"SERVICE", "LOCAL_LLM", "PORT", "REDISCLI_AUTH"}


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True)


def _settings_names() -> set[str]:
    names = set()
    for name, field in Settings.model_fields.items():
        names.add(name.upper())
        if field.validation_alias is not None:
            names.update(choice.upper() for choice in getattr(field.validation_alias, "choices", []))
    return names


def _env_example_names() -> set[str]:
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (REPO / "env.example").read_text(), re.M))


def test_dockerfiles_pass_hadolint():
    result = _run(str(BIN / "hadolint"), "Dockerfile", *sorted(str(p) for p in (REPO / "tests/containers").glob(
        "*.Dockerfile")))
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_files_match_the_compose_spec():
    result = _run(str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", *COMPOSE_FILES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_match_the_github_schema():
    workflows = sorted(str(path) for path in (REPO / ".github/workflows").glob("*.yml"))
    assert workflows
    result = _run(str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *workflows)
    assert result.returncode == 0, result.stdout + result.stderr


def test_shell_scripts_pass_shellcheck():
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is not installed (Debian package shellcheck; .ci/run installs it)")
    scripts = ["scripts/deploy.sh", *sorted(str(p.relative_to(REPO)) for p in (REPO / "tests/containers").glob("*.sh"))]
    result = _run("shellcheck", *scripts)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_variable_the_containers_get_is_a_setting_and_every_interpolated_one_is_documented():
    settings, documented = _settings_names(), _env_example_names()
    for name in COMPOSE_FILES[:3]:
        text = (REPO / name).read_text()
        services = yaml.safe_load(text)["services"]
        given = {key for service in services.values() for key in (service.get("environment") or {})}
        assert given - settings - NOT_SETTINGS == set(), f"{name} sets variables no setting reads"
        interpolated = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text))
        assert interpolated - documented == set(), f"{name} interpolates variables env.example does not document"
    render = yaml.safe_load((REPO / "render.yaml").read_text())
    keys = {variable["key"] for group in render["envVarGroups"] for variable in group["envVars"]}
    keys |= {variable["key"] for service in render["services"] for variable in service.get("envVars", [])
             if "key" in variable}
    assert keys - settings - NOT_SETTINGS == set(), "render.yaml sets variables no setting reads"


# The example `.env` of the design document ("Dockerização e Paralelização"), variable for variable.
DESIGN_ENV = {
    "OPENAI_API_KEY": "sk-design-0000000000000000",
    "GEMINI_API_KEY": "gemini-design-000000000000",
    "GOOGLE_DRIVE_API_KEY": "drive-design-000000000000",
    "GOOGLE_CREDENTIALS_PATH": "./data/credentials.json",
    "RAG_SERVER_URL": "http://rag-server:8001",
    "CHROMA_PERSIST_DIR": "./data/chroma",
    "MATERIALS_DIR": "./data/materials",
    "JWT_SECRET_KEY": "k7Qm2vX9pL4sT8wZ1nB6cD3fH5jR0yUe",
    "JWT_ALGORITHM": "HS256",
    "ACCESS_TOKEN_EXPIRE_MINUTES": "60",
    "CORS_ORIGINS": "http://localhost:3000,https://dnadaforca.com.br",
    "LOG_LEVEL": "DEBUG",
    "EMAIL_HOST": "smtp.gmail.com",
    "EMAIL_PORT": "465",
    "EMAIL_USERNAME": "contato@dnadaforca.com.br",
    "EMAIL_PASSWORD": "app-password-design",
    "EMAIL_FROM": "contato@dnadaforca.com.br",
}


def test_the_design_documents_env_is_read_under_its_names(tmp_path, monkeypatch):
    for name in DESIGN_ENV:
        monkeypatch.delenv(name, raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{name}={value}\n" for name, value in DESIGN_ENV.items()))
    settings = Settings(_env_file=env_file)
    secret = lambda value: value.get_secret_value()  # noqa: E731
    assert secret(settings.openai_api_key) == DESIGN_ENV["OPENAI_API_KEY"]
    assert secret(settings.gemini_api_key) == DESIGN_ENV["GEMINI_API_KEY"]
    assert secret(settings.google_drive_api_key) == DESIGN_ENV["GOOGLE_DRIVE_API_KEY"]
    assert settings.drive_credentials_path == Path("data/credentials.json")
    assert settings.rag_server_url == DESIGN_ENV["RAG_SERVER_URL"]
    assert settings.chroma_path == Path("data/chroma") and settings.materials_path == Path("data/materials")
    assert secret(settings.jwt_secret_key) == DESIGN_ENV["JWT_SECRET_KEY"] and settings.jwt_algorithm == "HS256"
    assert settings.access_token_expire_minutes == 60
    assert settings.cors_origins == ["http://localhost:3000", "https://dnadaforca.com.br"]
    assert settings.log_level == "DEBUG"
    assert (settings.email_host, settings.email_port) == ("smtp.gmail.com", 465)
    assert settings.email_username == DESIGN_ENV["EMAIL_USERNAME"]
    assert secret(settings.email_password) == DESIGN_ENV["EMAIL_PASSWORD"]
    assert settings.email_from == DESIGN_ENV["EMAIL_FROM"]


def test_the_earlier_email_user_name_still_works(monkeypatch):
    monkeypatch.setenv("EMAIL_USER", "antigo@dnadaforca.com.br")
    monkeypatch.delenv("EMAIL_USERNAME", raising=False)
    assert Settings(_env_file=None).email_username == "antigo@dnadaforca.com.br"


def test_a_rag_server_address_without_scheme_is_http(monkeypatch):
    monkeypatch.setenv("RAG_SERVER_URL", "dnaforca-rag:8001")  # Render's `hostport`
    assert Settings(_env_file=None).rag_server_url == "http://dnaforca-rag:8001"
