"""The API server's database: SQLAlchemy 2 engine and sessions, schema kept by Alembic migrations."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from filelock import FileLock
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"
# Replicas that start at once take turns on the migrations (PostgreSQL advisory lock id, or a file lock for SQLite).
MIGRATION_LOCK_ID = 0x646E61666F726361


class SchemaOutdated(RuntimeError):
    """The database is not at the newest migration: `dnaforca migrate` has not run for this version."""


def make_engine(settings: Settings) -> Engine:
    url = settings.sqlalchemy_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record) -> None:  # foreign keys cascade; readers never block the writer
            cursor = connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def migrate(engine: Engine) -> str:
    """Bring the schema to the newest migration (idempotent; a deploy step: `dnaforca migrate`)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
            try:
                command.upgrade(_alembic_config(connection), "head")
                connection.commit()
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
                connection.commit()
    else:
        database = engine.url.database
        lock = FileLock(f"{database}.migrate.lock") if database and database != ":memory:" else None
        with lock or nullcontext(), engine.connect() as connection:
            command.upgrade(_alembic_config(connection), "head")
            connection.commit()
    return head_revision()


def open_database(settings: Settings) -> tuple[Engine, sessionmaker[Session]]:
    """The engine and its session factory; SchemaOutdated when `dnaforca migrate` has not run."""
    engine = make_engine(settings)
    current, head = current_revision(engine), head_revision()
    if current != head:
        engine.dispose()
        raise SchemaOutdated(f"The database schema is at {current or 'nothing'}, this version needs {head}: "
                             "run `dnaforca migrate` (make run and the containers do it before starting)")
    return engine, sessionmaker(engine, expire_on_commit=False)


def ping(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
