"""The relevance gate on the course samples (real e5, Chroma and BM25 index): in-scope questions are answered,
off-topic and near-miss ones get "not covered"."""

from __future__ import annotations

import shutil

import pytest

from graphs.nodes import relevant
from tests.conftest import SAMPLES

IN_SCOPE = [
    "Quanta proteína devo comer por dia?",
    "Quantas séries por semana para hipertrofia?",
    "Como posicionar as escápulas no supino?",
    "De quanto em quanto tempo fazer um deload?",
    "Quais são os erros comuns no agachamento?",
]
OUT_OF_SCOPE = [
    "Qual é a capital da Austrália?",
    "Como faço um bolo de cenoura com cobertura de chocolate?",
    "Qual a diferença entre uma lista e uma tupla em Python?",
    "Como funciona o Pix?",
    "Qual a melhor marca de whey protein?",  # near miss: a supplement the materials never mention
]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, embeddings):
    """The samples indexed once for the module; the lesson on video is left out (transcribing it is not what this
    tests)."""
    from core.settings import Settings
    from knowledge.services import build_services

    services = build_services(Settings(data_dir=tmp_path_factory.mktemp("gate")), embeddings=embeddings)
    for path in SAMPLES.iterdir():
        if path.suffix != ".mp4":
            shutil.copy2(path, services.settings.materials_path / path.name)
    services.ingestor.sync()
    yield services
    services.catalog.close()


@pytest.mark.parametrize("question", IN_SCOPE)
def test_a_question_the_materials_answer_passes_the_gate(indexed, question):
    passages, evidence = indexed.retriever.search_with_evidence(question, 4)

    assert relevant(passages, evidence, indexed.settings.min_relevance) == passages != []


@pytest.mark.parametrize("question", OUT_OF_SCOPE)
def test_a_question_the_materials_do_not_cover_is_refused(indexed, question):
    passages, evidence = indexed.retriever.search_with_evidence(question, 4)

    assert relevant(passages, evidence, indexed.settings.min_relevance) == []
    assert relevant(passages, evidence, 0) == passages != []  # MIN_RELEVANCE=0 turns the gate off


def test_relevance_is_judged_on_the_same_passages_whatever_k(indexed):
    question = IN_SCOPE[1]

    one, judged_with_one = indexed.retriever.search_with_evidence(question, 1)
    four, judged_with_four = indexed.retriever.search_with_evidence(question, 4)

    assert len(one) == 1 and one == four[:1]
    assert judged_with_one == judged_with_four


def test_the_sentences_of_passages_already_judged_are_not_embedded_again(indexed, embeddings):
    from knowledge.retrieval import Retriever
    from tests.conftest import CountingEmbeddings

    counting = CountingEmbeddings(embeddings)
    retriever = Retriever(indexed.index, indexed.lexical, indexed.catalog, counting)
    retriever.search_with_evidence(IN_SCOPE[0], 4)  # also embeds the unrelated texts, once
    first = counting.documents_embedded
    _, evidence = retriever.search_with_evidence(IN_SCOPE[0], 4)

    assert first > 0 and counting.documents_embedded == first
    assert evidence == indexed.retriever.search_with_evidence(IN_SCOPE[0], 4)[1]
