"""The embedded Chroma index past SQLite's 32,766-variable limit: whole-index reads and deletions page through it."""

from __future__ import annotations

import time

import numpy as np
import pytest

from knowledge.catalog import Material
from tests.support.embeddings import HashEmbeddings

CHUNKS = 33_500  # Chroma's unpaged get() failed between 32,000 and 33,000 chunks ("too many SQL variables")
DIMENSION = 16


@pytest.fixture
def large_services(settings):
    from knowledge.services import build_services

    services = build_services(settings, embeddings=HashEmbeddings(DIMENSION))
    vectors = np.random.default_rng(3).normal(size=(CHUNKS, DIMENSION))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"bulk-{number}" for number in range(CHUNKS)]
    texts = [f"bloco {number} sobre treino de força e descanso" for number in range(CHUNKS)]
    metadatas = [{"material_id": "bulk", "source": "bulk.txt"}] * CHUNKS
    services.index.add(ids, texts, vectors, metadatas)
    services.lexical.add(ids, texts, metadatas)
    services.catalog.upsert(Material("bulk", "bulk.txt", "bulk.txt", 1, 1, "0", "indexed", None, CHUNKS, time.time()))
    services.catalog.bump_index_version()
    return services


def test_more_than_33000_chunks_are_read_queried_ingested_and_deleted(large_services, tmp_path):
    services = large_services
    assert len(services.index.all_chunks()[0]) == len(services.index.ids_of_material("bulk")) == CHUNKS

    material = services.settings.materials_path / "agachamento.txt"
    material.write_text("O agachamento livre fortalece quadríceps e glúteos; faça três séries de oito repetições.",
                        encoding="utf-8")
    [result] = services.ingestor.ingest([material])
    passages = services.retriever.search("agachamento livre quadríceps", 4)
    only_bulk = services.retriever.search("treino de força", 4, material_ids=["bulk"])

    deleted = services.ingestor.delete("bulk")
    # The hash vectors rank bulk chunks first as often as not; the lexical index finds the lesson.
    assert result.status == "indexed" and result.material_id in [passage.material_id for passage in passages]
    assert [passage.material_id for passage in only_bulk] == ["bulk"] * 4
    assert deleted.removed == CHUNKS
    assert services.index.count() == services.lexical.count() == result.chunks
    assert services.retriever.search("treino de força", 4, mode="bm25") == []


def test_an_index_built_before_the_lexical_index_existed_is_filled_once_in_the_background(settings):
    from knowledge.services import build_services

    embeddings = HashEmbeddings(DIMENSION)
    first = build_services(settings, embeddings=embeddings)
    texts = ["agachamento frontal", "supino inclinado", "remada baixa"]
    first.index.add(["a", "b", "c"], texts, embeddings.embed_documents(texts), [{"material_id": "m"}] * 3)
    first.lexical.close()
    for suffix in ("", "-wal", "-shm"):  # as an upgraded deployment finds it: vectors, no lexical index
        settings.lexical_path.with_name(settings.lexical_path.name + suffix).unlink(missing_ok=True)

    services = build_services(settings, embeddings=HashEmbeddings(DIMENSION))
    deadline = time.monotonic() + 10
    while services.lexical.count() < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [chunk.id for chunk in services.lexical.search("supino", 4)] == ["b"]
