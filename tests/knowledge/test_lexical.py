"""The persisted lexical index: bm25s's rankings from segments, deletions and merges; reads that never wait for a
writer; on SQLite and on PostgreSQL."""

from __future__ import annotations

import random
import threading
import time

import bm25s
import pytest
import Stemmer

from knowledge.lexical import MERGE_FACTOR, LexicalIndex, open_database
from tests.servers.api.conftest import postgres_database, postgres_server  # noqa: F401 (fixtures)

WORDS = [
    "agachamento", "supino", "remada", "terra", "treino", "série", "repetição", "carga", "força", "hipertrofia",
    "descanso", "proteína", "sono", "glúteo", "quadríceps", "peitoral", "dorsal", "bíceps", "tríceps", "ombro",
    "aquecimento", "volume", "intensidade", "semana",
]


@pytest.fixture(params=["sqlite", "postgresql"])
def lexical(request, tmp_path):
    url = request.getfixturevalue("postgres_database") if request.param == "postgresql" else None
    index = LexicalIndex(open_database(url, tmp_path / "lexical.sqlite3"))
    yield index
    index.close()


def random_texts(count: int, seed: int) -> list[str]:
    generator = random.Random(seed)
    return [" ".join(generator.choices(WORDS, k=generator.randint(5, 40))) for _ in range(count)]


def test_rankings_match_bm25s_over_the_live_chunks_after_deletes_replacements_and_merges(lexical):
    texts = random_texts(600, seed=1)
    ids = [f"chunk-{number}" for number in range(len(texts))]
    for start in range(0, len(ids), 20):  # 30 writes: enough segments for merges
        lexical.add(ids[start : start + 20], texts[start : start + 20],
                    [{"material_id": f"m{number % 5}"} for number in range(start, start + 20)])
    lexical.delete(ids[::7])
    lexical.delete_material("m4")
    replaced = random_texts(50, seed=2)
    lexical.add(ids[1:100:2], replaced, [{"material_id": "m1"}] * 50)

    live = {id_: (text, f"m{number % 5}") for number, (id_, text) in enumerate(zip(ids, texts, strict=True))
            if number % 7 and number % 5 != 4}
    live.update({id_: (text, "m1") for id_, text in zip(ids[1:100:2], replaced, strict=True)})
    live_ids = list(live)
    reference = bm25s.BM25()
    stemmer = Stemmer.Stemmer("portuguese")
    reference.index(bm25s.tokenize([live[id_][0] for id_ in live_ids], stopwords="pt", stemmer=stemmer,
                                   show_progress=False), show_progress=False)
    segments = lexical._read("SELECT COUNT(*) FROM lexical_segments")[0][0]
    assert lexical.count() == len(live) and segments < 2 * MERGE_FACTOR
    for question in ("agachamento e força", "quantas séries de supino por semana?", "sono proteína descanso"):
        query = bm25s.tokenize([question], stopwords="pt", stemmer=stemmer, return_ids=False, show_progress=False)
        scores = reference.get_scores(query[0])
        found = lexical.search(question, 5)
        expected = sorted(scores, reverse=True)[:5]
        assert [round(chunk.score, 3) for chunk in found] == [round(float(score), 3) for score in expected]
        assert all(scores[live_ids.index(chunk.id)] == pytest.approx(chunk.score, rel=1e-3) for chunk in found)
    assert {chunk.metadata["material_id"] for chunk in lexical.search("treino carga", 20, ["m2", "m3"])} <= {"m2", "m3"}


def test_a_query_while_the_index_is_being_written_answers_at_once_from_what_was_committed(lexical):
    lexical.add(["old"], ["agachamento com barra"], [{"material_id": "m1"}])
    writing, release = threading.Event(), threading.Event()

    def write_slowly():
        # Another writer's transaction holds the write lock: new chunks are in, not yet committed.
        with lexical._write() as write:
            lexical._delete(write, ["old"])
            writing.set()
            release.wait(10)

    writer = threading.Thread(target=write_slowly)
    writer.start()
    assert writing.wait(10)
    started = time.perf_counter()
    during = lexical.search("agachamento", 4)
    took = time.perf_counter() - started
    release.set()
    writer.join()
    assert [chunk.id for chunk in during] == ["old"] and took < 1.0
    assert lexical.search("agachamento", 4) == []
