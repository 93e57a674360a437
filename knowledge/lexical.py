"""The lexical (BM25) index: Portuguese-stemmed postings in SQLite under DATA_DIR or in PostgreSQL.

Every write commits at once and every process opening the same database sees it, so nothing is rebuilt,
at start-up or after an upload. Postings live in segments (one per write, merged eight at a time as they
grow); a query reads the postings of its own terms and scores them with numpy, as bm25s does ("lucene" BM25).
"""

from __future__ import annotations

import json
import math
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

from knowledge.vectorstore import StoredChunk

K1, B = 1.5, 0.75  # bm25s's defaults, so scores and rankings match the in-memory index this replaced
MERGE_FACTOR = 8  # this many segments of one size class become one segment of the next
MAX_VARIABLES = 500  # most values bound in one statement (SQLite allows 32,766; PostgreSQL 65,535)
POSTING = np.int32

SCHEMA = """
CREATE TABLE IF NOT EXISTS lexical_chunks (
    doc INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, material_id TEXT NOT NULL, segment INTEGER NOT NULL,
    length INTEGER NOT NULL, text TEXT NOT NULL, metadata TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS lexical_chunks_material ON lexical_chunks (material_id);
CREATE INDEX IF NOT EXISTS lexical_chunks_segment ON lexical_chunks (segment);
CREATE TABLE IF NOT EXISTS lexical_postings (
    term TEXT NOT NULL, segment INTEGER NOT NULL, docs {blob} NOT NULL, freqs {blob} NOT NULL,
    lengths {blob} NOT NULL, PRIMARY KEY (term, segment));
CREATE INDEX IF NOT EXISTS lexical_postings_segment ON lexical_postings (segment);
CREATE TABLE IF NOT EXISTS lexical_segments (id INTEGER PRIMARY KEY, docs INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS lexical_deleted (doc INTEGER PRIMARY KEY, segment INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS lexical_meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL);
"""
# next_doc / next_segment number new rows; documents and total_length are the live chunks' count and tokens;
# generation moves with every write (readers cache the deleted documents per generation).
COUNTERS = ("next_doc", "next_segment", "documents", "total_length", "generation")


def _batches(values: Sequence, size: int = MAX_VARIABLES) -> Iterable[Sequence]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _marks(values: Sequence) -> str:
    return ", ".join("?" for _ in values)


class _Database:
    """What both backends share: explicit transactions on an autocommit connection."""

    @staticmethod
    def commit(connection) -> None:
        connection.execute("COMMIT")

    @staticmethod
    def rollback(connection) -> None:
        connection.execute("ROLLBACK")


class _Sqlite(_Database):
    """One file on the local disk; readers never wait for the writer (WAL)."""

    blob = "BLOB"

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path

    def connect(self):
        import sqlite3

        connection = sqlite3.connect(self._path, isolation_level=None, timeout=60)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        return connection

    @staticmethod
    def sql(statement: str) -> str:
        return statement

    @staticmethod
    def begin_write(connection) -> None:
        connection.execute("BEGIN IMMEDIATE")  # one writer at a time, across processes


class _Postgres(_Database):
    """A PostgreSQL database several machines share; writers take turns on an advisory lock."""

    blob = "BYTEA"
    WRITE_LOCK = 0x6C657869  # the advisory lock key of lexical-index writers ("lexi")

    def __init__(self, url: str):
        self._url = url

    def connect(self):
        import psycopg

        return psycopg.connect(self._url, autocommit=True)

    @staticmethod
    def sql(statement: str) -> str:
        return statement.replace("?", "%s")

    def begin_write(self, connection) -> None:
        connection.execute("BEGIN")
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (self.WRITE_LOCK,))



_stemmers = threading.local()  # a stemmer per thread (they are not thread-safe)


def tokenize(texts: list[str]) -> list[list[str]]:
    """Lower-cased, Portuguese stop words dropped, Snowball-stemmed terms of each text (how the index reads)."""
    stemmer = getattr(_stemmers, "stemmer", None)
    if stemmer is None:
        stemmer = _stemmers.stemmer = Stemmer.Stemmer("portuguese")
    return bm25s.tokenize(texts, stopwords="pt", stemmer=stemmer, return_ids=False, show_progress=False)


def _idf(documents: int, containing: int) -> float:
    return math.log(1 + (documents - containing + 0.5) / (containing + 0.5))


def open_database(url: str | None, default_path: Path) -> _Sqlite | _Postgres:
    if url and url.startswith(("postgresql://", "postgres://")):
        return _Postgres(url)
    return _Sqlite(Path(url.removeprefix("sqlite:///")) if url else default_path)


class _Transaction:
    """One write transaction: `with index._write() as write: write.execute(...)`."""

    def __init__(self, database: _Sqlite | _Postgres, connection):
        self._database, self._connection = database, connection

    def __enter__(self) -> _Transaction:
        self._database.begin_write(self._connection)
        return self

    def execute(self, statement: str, parameters: Sequence = ()) -> list[tuple]:
        cursor = self._connection.execute(self._database.sql(statement), tuple(parameters))
        return cursor.fetchall() if cursor.description else []

    def execute_many(self, statement: str, rows: list[tuple]) -> None:
        if rows:
            self._connection.cursor().executemany(self._database.sql(statement), rows)

    def __exit__(self, error_type, *_) -> None:
        if error_type is None:
            self._database.commit(self._connection)
        else:
            self._database.rollback(self._connection)


class LexicalIndex:
    def __init__(self, database: _Sqlite | _Postgres):
        self._database = database
        # A connection per thread: a query never queues behind a write.
        self._local = threading.local()
        self._deleted: tuple[int, np.ndarray] = (-1, np.zeros(0, dtype=bool))
        with self._write() as write:
            for statement in SCHEMA.format(blob=database.blob).split(";"):
                if statement.strip():
                    write.execute(statement)
            for counter in COUNTERS:
                write.execute("INSERT INTO lexical_meta (key, value) VALUES (?, 0) ON CONFLICT (key) DO NOTHING",
                              (counter,))

    # Connections and transactions
    def _connection(self):
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self._database.connect()
        return connection

    def _read(self, statement: str, parameters: Sequence = ()) -> list[tuple]:
        return self._connection().execute(self._database.sql(statement), tuple(parameters)).fetchall()

    def _write(self) -> _Transaction:
        return _Transaction(self._database, self._connection())

    def _counters(self, write: _Transaction | None = None) -> dict[str, int]:
        rows = (write.execute if write else self._read)("SELECT key, value FROM lexical_meta")
        return {key: int(value) for key, value in rows}

    @staticmethod
    def _bump(write: _Transaction, **changes: int) -> None:
        for key, change in changes.items():
            write.execute("UPDATE lexical_meta SET value = value + ? WHERE key = ?", (change, key))

    @staticmethod
    def tokenize(texts: list[str]) -> list[list[str]]:
        return tokenize(texts)

    # Writes
    def add(self, ids: Sequence[str], texts: Sequence[str], metadatas: Sequence[dict]) -> None:
        """Index chunks (an id already present is replaced); searchable by every process once this returns."""
        if not ids:
            return
        tokens = self.tokenize(list(texts))
        with self._write() as write:
            self._delete(write, list(ids))
            counters = self._counters(write)
            segment, first = counters["next_segment"], counters["next_doc"]
            postings: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
            rows = []
            for offset, (id_, text, metadata, words) in enumerate(zip(ids, texts, metadatas, tokens, strict=True)):
                doc = first + offset
                rows.append((doc, id_, metadata.get("material_id", ""), segment, len(words), text,
                             json.dumps(metadata, ensure_ascii=False)))
                for term, frequency in Counter(words).items():
                    postings[term].append((doc, frequency, len(words)))
            write.execute_many("INSERT INTO lexical_chunks (doc, id, material_id, segment, length, text, metadata) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            self._insert_segment(write, segment, len(ids), postings)
            self._bump(write, next_doc=len(ids), next_segment=1, documents=len(ids),
                       total_length=sum(row[4] for row in rows), generation=1)
        self._merge()

    def fill(self, pages: Iterable[tuple[list[str], list[str], list[dict]]]) -> None:
        """Index every page of chunks (the vector index's `pages()`), e.g. after a restore."""
        for ids, texts, metadatas in pages:
            self.add(ids, texts, metadatas)

    def _insert_segment(self, write: _Transaction, segment: int, documents: int,
                        postings: dict[str, list[tuple[int, int, int]]]) -> None:
        rows = []
        for term, entries in postings.items():
            columns = np.array(entries, dtype=POSTING).T
            rows.append((term, segment, columns[0].tobytes(), columns[1].tobytes(), columns[2].tobytes()))
        write.execute_many("INSERT INTO lexical_postings (term, segment, docs, freqs, lengths) VALUES (?, ?, ?, ?, ?)",
                           rows)
        write.execute("INSERT INTO lexical_segments (id, docs) VALUES (?, ?)", (segment, documents))

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            with self._write() as write:
                self._delete(write, list(ids))
            self._merge()

    def delete_material(self, material_id: str) -> None:
        with self._write() as write:
            while ids := [row[0] for row in write.execute(
                    "SELECT id FROM lexical_chunks WHERE material_id = ? LIMIT ?", (material_id, MAX_VARIABLES))]:
                self._delete(write, ids)
        self._merge()

    def _delete(self, write: _Transaction, ids: list[str]) -> None:
        # Postings stay until their segment is merged; until then queries mask the deleted documents.
        for batch in _batches(ids):
            rows = write.execute(f"SELECT doc, segment, length FROM lexical_chunks WHERE id IN ({_marks(batch)})",
                                 batch)
            if not rows:
                continue
            docs = [row[0] for row in rows]
            write.execute(f"DELETE FROM lexical_chunks WHERE doc IN ({_marks(docs)})", docs)
            write.execute_many("INSERT INTO lexical_deleted (doc, segment) VALUES (?, ?)",
                               [(doc, segment) for doc, segment, _ in rows])
            self._bump(write, documents=-len(rows), total_length=-sum(row[2] for row in rows), generation=1)

    def reset(self) -> None:
        with self._write() as write:
            for table in ("lexical_chunks", "lexical_postings", "lexical_segments", "lexical_deleted"):
                write.execute(f"DELETE FROM {table}")
            write.execute("UPDATE lexical_meta SET value = 0 WHERE key IN ('documents', 'total_length')")
            self._bump(write, generation=1)

    def _merge(self) -> None:
        """Merge MERGE_FACTOR segments of one size class while there are that many (a query reads fewer blobs), and
        rewrite a segment once half its documents are deleted (queries stop masking them)."""
        while True:
            with self._write() as write:
                classes: dict[int, list[int]] = defaultdict(list)
                for segment, docs in write.execute("SELECT id, docs FROM lexical_segments ORDER BY id"):
                    classes[int(math.log(max(docs, 1), MERGE_FACTOR))].append(segment)
                chosen = next((segments[:MERGE_FACTOR] for _, segments in sorted(classes.items())
                               if len(segments) >= MERGE_FACTOR), None)
                chosen = chosen or [segment for segment, deleted, docs in write.execute(
                    "SELECT d.segment, COUNT(*), s.docs FROM lexical_deleted d JOIN lexical_segments s "
                    "ON s.id = d.segment GROUP BY d.segment, s.docs") if 2 * deleted >= docs][:1]
                if not chosen:
                    return
                self._merge_segments(write, chosen)

    def _merge_segments(self, write: _Transaction, segments: list[int]) -> None:
        marks = _marks(segments)
        dead = np.array([row[0] for row in write.execute(f"SELECT doc FROM lexical_deleted WHERE segment IN ({marks})",
                                                   segments)], dtype=POSTING)
        parts: dict[str, list[np.ndarray]] = defaultdict(list)
        for term, docs, freqs, lengths in write.execute(
                f"SELECT term, docs, freqs, lengths FROM lexical_postings WHERE segment IN ({marks})", segments):
            parts[term].append(np.stack([np.frombuffer(column, dtype=POSTING) for column in (docs, freqs, lengths)]))
        postings = {}
        for term, arrays in parts.items():
            merged = np.concatenate(arrays, axis=1)
            merged = merged[:, ~np.isin(merged[0], dead)]
            if merged.shape[1]:
                postings[term] = merged.T
        merged_segment = self._counters(write)["next_segment"]
        live = write.execute(f"SELECT COUNT(*) FROM lexical_chunks WHERE segment IN ({marks})", segments)[0][0]
        for table, column in (("lexical_postings", "segment"), ("lexical_segments", "id"),
                              ("lexical_deleted", "segment")):
            write.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", segments)
        self._insert_segment(write, merged_segment, live, postings)
        write.execute(f"UPDATE lexical_chunks SET segment = ? WHERE segment IN ({marks})", [merged_segment, *segments])
        self._bump(write, next_segment=1)

    # Reads
    def count(self) -> int:
        return self._counters()["documents"]

    def _dead(self, counters: dict[str, int]) -> np.ndarray:
        """Which document numbers are deleted but still in a segment's postings (cached per generation)."""
        generation, dead = self._deleted
        if generation != counters["generation"]:
            dead = np.zeros(counters["next_doc"], dtype=bool)
            # A document added and deleted since `counters` was read is past its end (and not in its postings).
            dead[[row[0] for row in self._read("SELECT doc FROM lexical_deleted") if row[0] < len(dead)]] = True
            self._deleted = (counters["generation"], dead)
        return dead

    def search(self, question: str, k: int, material_ids: Sequence[str] | None = None) -> list[StoredChunk]:
        terms = sorted(set(self.tokenize([question])[0]))
        counters = self._counters()
        documents = counters["documents"]
        if not terms or not documents:
            return []
        average_length = counters["total_length"] / documents
        scores = np.zeros(counters["next_doc"], dtype=np.float32)
        by_term: dict[str, list[tuple[bytes, bytes, bytes]]] = defaultdict(list)
        for batch in _batches(terms):
            for term, docs, freqs, lengths in self._read(
                    f"SELECT term, docs, freqs, lengths FROM lexical_postings WHERE term IN ({_marks(batch)})", batch):
                by_term[term].append((docs, freqs, lengths))
        dead = self._dead(counters)
        for blobs in by_term.values():
            docs, freqs, lengths = (np.concatenate([np.frombuffer(blob[column], dtype=POSTING) for blob in blobs])
                                    for column in range(3))
            # Documents written since `counters` was read are left to the next query; deleted ones are skipped.
            live = docs < len(dead)
            live[live] = ~dead[docs[live]]
            docs, freqs, lengths = docs[live], freqs[live], lengths[live]
            idf = _idf(documents, len(docs))
            freqs = freqs.astype(np.float32)
            scores[docs] += idf * freqs / (freqs + K1 * (1 - B + B * lengths / average_length))
        if material_ids:
            allowed = np.zeros_like(scores)
            for batch in _batches(list(material_ids)):
                rows = self._read(f"SELECT doc FROM lexical_chunks WHERE material_id IN ({_marks(batch)})", batch)
                allowed[[row[0] for row in rows]] = 1
            scores *= allowed
        top = np.argpartition(-scores, min(k, len(scores) - 1))[:k]
        top = [int(doc) for doc in top[np.argsort(-scores[top])] if scores[doc] > 0]
        if not top:
            return []
        rows = {row[0]: row[1:] for row in self._read(
            f"SELECT doc, id, text, metadata FROM lexical_chunks WHERE doc IN ({_marks(top)})", top)}
        return [StoredChunk(rows[doc][0], rows[doc][1], json.loads(rows[doc][2]), float(scores[doc]))
                for doc in top if doc in rows]

    def ideal_score(self, question: str) -> float:
        """The score of a chunk holding every term of the question (a term no chunk holds counts as the rarest):
        a search's best score over this is the share of the question the index can match."""
        terms = sorted(set(self.tokenize([question])[0]))
        documents = self._counters()["documents"]
        frequency: Counter[str] = Counter()
        for batch in _batches(terms):
            for term, docs in self._read(
                    f"SELECT term, docs FROM lexical_postings WHERE term IN ({_marks(batch)})", batch):
                frequency[term] += len(docs) // np.dtype(POSTING).itemsize
        # Saturated term frequency is at most 1, so a term adds at most its idf (deleted chunks still count).
        return sum(_idf(documents, min(frequency[term], documents)) for term in terms)

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
