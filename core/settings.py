"""Every setting of the product, read once from the environment and `.env`."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, computed_field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.secrets import stored_secret

LLMProvider = Literal["auto", "openai", "gemini", "local", "extractive"]
EmbeddingsProvider = Literal["auto", "openai", "gemini", "local"]
LocalModelName = Literal["qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"]
RetrievalMode = Literal["dense", "bm25", "hybrid"]


# Secrets published in this repository's history, its examples or common tutorials: refused everywhere.
KNOWN_SECRETS = frozenset({
    "change-me-in-production", "change-me", "changeme", "secret", "your-secret-key", "supersecret",
    "dev-secret", "test-secret", "segredo",
})
MIN_SECRET_CHARS = 32
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_ignore_empty=True, extra="ignore")

    environment: Literal["development", "test", "production"] = Field(
        "production", description="development also logs password reset links when no SMTP host is set"
    )
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = Field(
        "text", description="json: one JSON object per line (level, logger, request id, user id, route, status, "
        "duration); text: one readable line")

    # Local state. DATA_DIR roots everything unless a more specific path is given.
    data_dir: Path = Path("data")
    chroma_persist_dir: Path | None = None
    materials_dir: Path | None = None
    models_dir: Path | None = None
    chroma_server_url: str | None = None
    chroma_collection: str = "materials"
    lexical_index_url: str | None = Field(
        None, description="the BM25 index: unset means SQLite under DATA_DIR (shared by the processes on this "
        "machine); a postgresql:// URL shares one index between machines"
    )

    # Model providers.
    llm_provider: LLMProvider = "auto"
    embeddings_provider: EmbeddingsProvider = "auto"
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    openai_embedding_model: str = "text-embedding-3-small"
    gemini_api_key: SecretStr | None = None
    gemini_model: str = "gemini-2.0-flash"
    gemini_embedding_model: str = "models/text-embedding-004"
    local_llm_model: LocalModelName = "qwen2.5-coder-1.5b"
    local_llm_threads: int | None = None
    local_llm_context: int = 4096
    llm_temperature: float = 0.0  # answers from passages: the most likely wording (a run may ask for more)
    llm_max_tokens: int = 512
    llm_timeout_seconds: float = 120.0
    llm_max_concurrency: int = Field(
        32, ge=1, le=1024,
        description="answers a process generates at once with a hosted or OpenAI-compatible model (local: 1)",
    )

    # Ingestion.
    chunk_size: int = 1000
    chunk_overlap: int = 100
    spreadsheet_rows_per_chunk: int = 20
    max_file_mb: int = 50
    max_pdf_pages: int = 2000
    ocr_enabled: bool = True
    ocr_language: str = "por"
    embed_batch_size: int = 64
    # Parser budgets: no file may take the server down or hold the ingestion lock for ever.
    parse_isolation: bool = Field(True, description="parse each file in a child process under the two limits below")
    parse_memory_mb: int = Field(4096, ge=512, description="address space of the parsing process (RLIMIT_AS)")
    parse_timeout_seconds: float = Field(3600, gt=0, description="longest one file may take to parse (OCR included)")
    max_sheet_cells: int = Field(10_000_000, ge=1, description="rows × columns of one sheet's used range")
    max_workbook_cells: int = Field(30_000_000, ge=1, description="cells read from one workbook, every sheet together")
    max_unzipped_mb: int = Field(1024, ge=1, description="decompressed size of an xlsx/xlsm/docx/ods archive")
    max_zip_ratio: int = Field(200, ge=1, description="compression ratio over which an archive part is a zip bomb")
    max_ocr_pixels: int = Field(40_000_000, ge=1, description="pixels of one page rendered for OCR (A2 at 300 DPI)")
    ocr_page_timeout_seconds: float = Field(120, gt=0, description="longest tesseract may take on one page")
    ffmpeg_timeout_seconds: float = Field(900, gt=0, description="longest ffmpeg may take to extract a video's audio")
    # Lessons on video and audio: a sidecar .srt/.vtt wins, then a transcript made before for the same content.
    transcription_provider: Literal["auto", "local", "openai", "none"] = Field(
        "auto", description="auto: the bundled Whisper model when installed, else OpenAI's with OPENAI_API_KEY")
    transcription_language: str = Field("pt", pattern=r"^[a-z]{2,3}$", description="spoken language (Whisper's "
                                        "own detection mistakes synthetic Portuguese for Spanish)")
    transcription_compute_type: Literal["int8", "float32"] = "int8"
    transcription_threads: int = Field(0, ge=0, description="CPU threads of the local Whisper model; 0: every core")
    max_media_minutes: float = Field(240, gt=0, description="longest video or audio transcribed (per file)")

    # Retrieval.
    retrieval_mode: RetrievalMode = "hybrid"
    retrieval_k: int = 4
    # Calibrated with bench/answer_eval.py: Pirá's answerable questions against off-topic ones (bench/questions/).
    min_relevance: float = Field(
        0.064, description="relevance under which the materials do not cover a question: the e5 similarity of the "
        "best sentence of the 3 best passages (0.75) and of the best passage (0.25), minus the question's similarity "
        "to unrelated text, plus 0.1 × the share of its terms BM25 matches; 0 turns the gate off"
    )

    # Redis: graph checkpoints, query cache, job queue and sessions switch to it when REDIS_URL is set.
    redis_url: str | None = None
    redis_prefix: str = "dnaforca"
    redis_cluster: bool = Field(False, description="REDIS_URL is one node of a Redis Cluster (database 0 only)")
    checkpoint_ttl_minutes: int | None = Field(
        None, description="conversations expire this long after their last turn (Redis only; unset keeps them)"
    )
    query_cache_ttl_seconds: int = Field(
        3600, description="how long identical questions are answered from the cache; 0 turns it off"
    )
    query_cache_size: int = Field(1024, description="answers kept by the in-process cache (without Redis)")

    # Ingestion jobs (Huey: RedisHuey with REDIS_URL, SqliteHuey under DATA_DIR otherwise).
    inline_worker: bool = Field(
        True, description="run a job worker inside the RAG server (turn off when `make worker` runs them)"
    )
    job_lease_seconds: int = Field(60, description="a running job whose worker is silent this long is retried")
    job_max_attempts: int = 3

    # Operations: metrics and scheduled backups.
    metrics_token: SecretStr | None = Field(
        None, description="a bearer token that reads /metrics only (for Prometheus); the service token reads it too")
    worker_metrics_host: str = Field("127.0.0.1", description="where a `dnaforca worker` serves /metrics")
    worker_metrics_port: int = Field(9101, ge=0, le=65535, description="0: a worker serves no /metrics")
    backup_schedule: str = Field(
        "0 3 * * *", description="when the job queue writes a backup (cron: minute hour day month weekday, in "
        "UTC as Huey reads it); `off` turns scheduled backups off")
    backup_keep: int = Field(7, ge=1, description="scheduled backups kept in BACKUP_DIR (the oldest go first)")
    backup_dir: Path | None = Field(None, description="where scheduled backups are written; unset: DATA_DIR/backups")

    # HTTP.
    rag_host: str = "127.0.0.1"
    rag_port: int = 8001
    rag_service_token: SecretStr | None = Field(
        None, description="bearer token of the RAG server; unset: generated under DATA_DIR/secrets (one machine)"
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["localhost", "127.0.0.1", "[::1]"],
        description="Host headers both servers answer (DNS rebinding guard); `*.example.com` wildcards, `*` any",
    )
    llm_max_queue: int = Field(
        128, ge=0, le=10_000,
        description="questions a RAG process lets wait for a generation slot; past it: 503 with Retry-After",
    )
    max_json_mb: float = Field(
        1.0, gt=0, le=100, description="largest JSON (or form) body either server reads; uploads have their own limits"
    )
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    rag_server_url: str = Field(
        "http://127.0.0.1:8001",
        description="where the API server reaches the RAG server (`host:port` means http://host:port, as Render's "
        "`hostport` property gives it)",
    )
    rag_timeout_seconds: float = Field(180.0, description="longest the API server waits on one RAG server call")

    # API server: users database, tokens, limits.
    database_url: str | None = Field(None, description="SQLAlchemy URL; unset means SQLite under DATA_DIR")
    jwt_secret_key: SecretStr | None = Field(
        None, description="signs the API server's tokens; unset: generated under DATA_DIR/secrets"
    )
    jwt_algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    access_token_expire_minutes: int = 30
    refresh_token_expire_days: int = 14
    password_reset_expire_minutes: int = 30
    bcrypt_rounds: int = Field(12, ge=4, le=31, description="cost of password hashes (each step doubles it)")
    allow_registration: bool = Field(True, description="anyone may create a student account at /auth/register")
    first_admin_email: str | None = Field(None, description="created as admin at start-up if absent")
    first_admin_password: SecretStr | None = None
    login_failures_per_client: int = Field(
        5, ge=1, description="failed logins per account from one client (its known-device cookie, else its IP) "
        "per window"
    )
    login_attempts_per_account: int = Field(
        20, ge=1, description="logins per account per window from clients without its known-device cookie, "
        "all addresses together (the owner's known devices are never held by it)"
    )
    login_attempts_per_ip: int = Field(20, ge=1, description="logins allowed per client IP per window")
    login_window_seconds: int = Field(300, ge=1)
    known_device_days: int = Field(
        180, ge=1, description="a successful login marks the browser as a known device of the account this long"
    )
    trusted_proxies: str = Field(
        "", description="comma-separated IPs/CIDRs of reverse proxies whose X-Forwarded-For/Forwarded is believed"
    )
    registrations_per_ip_per_hour: int = Field(20, ge=1, description="accounts created per client IP per hour")
    password_changes_per_user_per_hour: int = Field(5, ge=1, description="change-password attempts per user per hour")
    anonymous_chat_per_minute: int = Field(10, description="questions per client IP per minute on /chat")
    chat_per_user_per_minute: int = Field(10, ge=1, description="questions per signed-in user per minute")
    chat_per_user_per_day: int = Field(300, ge=1, description="questions per signed-in user per day")
    max_upload_mb: int = Field(50, description="largest material the API server accepts")
    frontend_url: str = Field("http://localhost:3000", description="links in e-mails point here")

    # Google Drive, where course staff keep materials.
    google_drive_api_key: SecretStr | None = Field(None, description="reads folders shared publicly by link")
    google_credentials_path: Path | None = Field(
        None, description="a service account's or an OAuth client's credentials.json (on Render: "
        "/etc/secrets/credentials.json); unset: DATA_DIR/credentials.json when it exists",
    )
    google_token_path: Path | None = Field(
        None, description="where an OAuth client's token.json is kept; unset: beside the credentials when that "
        "folder is writable, DATA_DIR/token.json otherwise (Render's secret files are read-only)",
    )
    google_api_endpoint: str | None = Field(
        None, description="the Drive v3 base URL (…/drive/v3/); unset: Google's (for proxies and tests)")
    drive_sync_interval_minutes: int = Field(
        15, ge=0, description="minutes between scheduled Google Drive syncs; 0 syncs only when asked (POST /drive/sync)"
    )
    drive_retries: int = Field(5, ge=0, le=10, description="retries of a Drive call on 429, 403 rate limits and 5xx "
                               "(exponential backoff with jitter)")

    # E-mail (password reset).
    email_host: str | None = Field(None, description="SMTP server; unset means e-mails are logged, not sent")
    email_port: int = 587
    email_username: str | None = Field(
        None, validation_alias=AliasChoices("EMAIL_USERNAME", "EMAIL_USER"),
        description="SMTP login (EMAIL_USER, its earlier name, is read too)",
    )
    email_password: SecretStr | None = None
    email_from: str = "DNA da Força <no-reply@dnadaforca.com.br>"
    email_use_tls: bool = Field(True, description="STARTTLS after connecting (EMAIL_USE_SSL for implicit TLS)")
    email_use_ssl: bool = False
    email_timeout_seconds: float = 10.0
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["http://localhost:3000"])

    @field_validator("jwt_secret_key", "rag_service_token", "metrics_token")
    @classmethod
    def _strong_secret(cls, value: SecretStr | None, info) -> SecretStr | None:
        if value is None:
            return None
        secret = value.get_secret_value()
        name = info.field_name.upper()
        if secret.strip().lower() in KNOWN_SECRETS:
            raise ValueError(f"{name} is a published example value; set a random one (or unset it to have one "
                             "generated), e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`")
        if len(secret) < MIN_SECRET_CHARS:
            raise ValueError(f"{name} must have at least {MIN_SECRET_CHARS} characters")
        return value

    @field_validator("backup_schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        value = " ".join(value.split())
        if value.lower() not in ("off", "") and len(value.split(" ")) != 5:
            raise ValueError("BACKUP_SCHEDULE is five cron fields (minute hour day month weekday), or `off`")
        return value

    @field_validator("rag_server_url")
    @classmethod
    def _with_scheme(cls, value: str) -> str:
        return value if "://" in value else f"http://{value}"

    @field_validator("cors_origins", "allowed_hosts", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @computed_field
    @property
    def chroma_path(self) -> Path:
        return self.chroma_persist_dir or self.data_dir / "chroma"

    @computed_field
    @property
    def materials_path(self) -> Path:
        return self.materials_dir or self.data_dir / "materials"

    @computed_field
    @property
    def catalog_path(self) -> Path:
        return self.data_dir / "catalog.sqlite3"

    @computed_field
    @property
    def lexical_path(self) -> Path:
        return self.data_dir / "lexical.sqlite3"

    @computed_field
    @property
    def checkpoints_path(self) -> Path:
        return self.data_dir / "checkpoints.sqlite3"

    @computed_field
    @property
    def queue_path(self) -> Path:
        return self.data_dir / "queue.sqlite3"

    @computed_field
    @property
    def backups_path(self) -> Path:
        return self.backup_dir or self.data_dir / "backups"

    @computed_field
    @property
    def models_path(self) -> Path:
        return self.models_dir or self.data_dir / "models"

    @property
    def keyed_provider(self) -> Literal["openai", "gemini"] | None:
        """The cloud provider `auto` picks: OpenAI if its key is set, else Gemini, else none."""
        if self.openai_api_key is not None:
            return "openai"
        if self.gemini_api_key is not None:
            return "gemini"
        return None

    def api_key(self, provider: Literal["openai", "gemini"]) -> SecretStr:
        key = self.openai_api_key if provider == "openai" else self.gemini_api_key
        if key is None:
            raise ValueError(f"The {provider} provider needs {provider.upper()}_API_KEY")
        return key

    @property
    def max_file_bytes(self) -> int:
        return self.max_file_mb * 1024 * 1024

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def sqlalchemy_url(self) -> str:
        if not self.database_url:
            return f"sqlite:///{self.data_dir / 'api.sqlite3'}"
        # Render and Heroku hand out postgres:// URLs; SQLAlchemy names the driver.
        for scheme in ("postgres://", "postgresql://"):
            if self.database_url.startswith(scheme):
                return "postgresql+psycopg://" + self.database_url.removeprefix(scheme)
        return self.database_url

    @property
    def drive_credentials_path(self) -> Path:
        return self.google_credentials_path or self.data_dir / "credentials.json"

    @property
    def drive_token_path(self) -> Path:
        if self.google_token_path:
            return self.google_token_path
        beside = self.drive_credentials_path.parent
        return beside / "token.json" if os.access(beside, os.W_OK) else self.data_dir / "token.json"

    @property
    def secrets_path(self) -> Path:
        return self.data_dir / "secrets"

    def service_token(self) -> str:
        """RAG_SERVICE_TOKEN, or the one generated for every process sharing this DATA_DIR."""
        if self.rag_service_token is not None:
            return self.rag_service_token.get_secret_value()
        return stored_secret(self.secrets_path / "rag-service-token")

    def jwt_key(self) -> str:
        """JWT_SECRET_KEY, or the one generated for every API server process sharing this DATA_DIR."""
        if self.jwt_secret_key is not None:
            return self.jwt_secret_key.get_secret_value()
        return stored_secret(self.secrets_path / "jwt-secret")


@lru_cache
def get_settings() -> Settings:
    return Settings()
