"""The API server's part of a backup: every table as JSON (portable between SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import datetime
from enum import Enum

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from servers.api.models import Base, UtcDateTime

FORMAT = 1


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def dump_database(session: Session) -> bytes:
    tables = {table.name: [{key: _plain(value) for key, value in row.items()}
                           for row in session.execute(select(table)).mappings()]
              for table in Base.metadata.sorted_tables}
    return json.dumps({"format": FORMAT, "tables": tables}, ensure_ascii=False).encode()


def load_database(session: Session, raw: bytes) -> dict[str, int]:
    """Replace every table's rows with the dump's, in one transaction (all or nothing)."""
    try:
        dump = json.loads(raw)
        tables = dump["tables"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"database.json is not a database dump: {error}") from None
    if dump.get("format") != FORMAT:
        raise ValueError(f"database.json has format {dump.get('format')}, this server reads {FORMAT}")
    for table in reversed(Base.metadata.sorted_tables):
        session.execute(delete(table))
    counts = {}
    for table in Base.metadata.sorted_tables:
        times = [column.name for column in table.columns if isinstance(column.type, UtcDateTime)]
        rows = [{**row, **{name: datetime.fromisoformat(row[name]) for name in times if row.get(name)}}
                for row in tables.get(table.name, [])]
        if rows:
            session.execute(insert(table), rows)
        counts[table.name] = len(rows)
    session.commit()
    return counts
