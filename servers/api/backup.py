"""Backups: every table as JSON (portable between SQLite and PostgreSQL) beside the RAG server's archive."""

from __future__ import annotations

import json
import tarfile
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from servers.api.models import Base, UtcDateTime
from servers.api.rag_client import RagClient

FORMAT = 1
DATABASE_MEMBER, RAG_MEMBER = "database.json", "rag.tar.gz"


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


async def write_backup(rag: RagClient, session: Session, folder: Path) -> Path:
    """One archive in `folder`: the database (`database.json`) and the RAG server's materials, vectors and
    catalogue (`rag.tar.gz`)."""
    rag_archive = folder / RAG_MEMBER
    response = await rag.open_stream("GET", "/backup")
    try:
        with rag_archive.open("wb") as handle:
            async for block in response.aiter_bytes():
                handle.write(block)
    finally:
        await response.aclose()
    (folder / DATABASE_MEMBER).write_bytes(await run_in_threadpool(dump_database, session))
    archive = folder / f"dnaforca-backup-{datetime.now(UTC):%Y%m%d-%H%M%S}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder / DATABASE_MEMBER, arcname=DATABASE_MEMBER)
        tar.add(rag_archive, arcname=RAG_MEMBER)
    return archive


def read_dump(raw: bytes) -> dict[str, list[dict]]:
    """The rows of each table of a dump, checked before anything is restored (ValueError saying why not)."""
    try:
        dump = json.loads(raw)
        tables = dump["tables"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"database.json is not a database dump: {error}") from None
    if dump.get("format") != FORMAT:
        raise ValueError(f"database.json has format {dump.get('format')}, this server reads {FORMAT}")
    known = {table.name: table for table in Base.metadata.sorted_tables}
    if not isinstance(tables, dict) or set(tables) - set(known):
        raise ValueError(f"database.json has tables this server does not know: {sorted(set(tables) - set(known))}")
    rows_by_table = {}
    for name, table in known.items():
        rows = tables.get(name, [])
        columns = {column.name for column in table.columns}
        if not isinstance(rows, list) or not all(isinstance(row, dict) and set(row) <= columns for row in rows):
            raise ValueError(f"database.json: the rows of {name} are not rows of that table")
        times = [column.name for column in table.columns if isinstance(column.type, UtcDateTime)]
        try:
            rows_by_table[name] = [{**row, **{column: datetime.fromisoformat(row[column])
                                              for column in times if row.get(column)}} for row in rows]
        except (TypeError, ValueError) as error:
            raise ValueError(f"database.json: a date of {name} is not ISO 8601: {error}") from None
    return rows_by_table


def load_database(session: Session, rows_by_table: dict[str, list[dict]]) -> dict[str, int]:
    """Replace every table's rows with the dump's (from `read_dump`), in one transaction (all or nothing)."""
    for table in reversed(Base.metadata.sorted_tables):
        session.execute(delete(table))
    counts = {}
    for table in Base.metadata.sorted_tables:
        rows = rows_by_table.get(table.name, [])
        if rows:
            session.execute(insert(table), rows)
        counts[table.name] = len(rows)
    session.commit()
    return counts
