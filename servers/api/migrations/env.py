"""Alembic environment: the connection `servers.api.db.migrate` holds, or one built from the settings (CLI)."""

from alembic import context

from core.settings import get_settings
from servers.api.db import make_engine
from servers.api.models import Base


def run(connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if (given := context.config.attributes.get("connection")) is not None:
    run(given)
else:
    with make_engine(get_settings()).connect() as connection:
        run(connection)
        connection.commit()
