"""Alembic environment: the engine of the running server, or one built from the settings (CLI)."""

from alembic import context

from core.settings import get_settings
from servers.api.db import make_engine
from servers.api.models import Base

engine = context.config.attributes.get("engine") or make_engine(get_settings())
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
