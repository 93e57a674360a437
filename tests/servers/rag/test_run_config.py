"""Who may configure a run: public question routes ignore a client's configuration, a service-token holder
changes prompts and retrieval, bad values are 422, and the cache never serves one configuration's answer to
another."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from chains.prompts import ANSWER_SYSTEM
from tests.conftest import AUTH, indexed_app
from tests.support.models import EchoChatModel

QUESTION = "Quanta proteína devo comer por dia?"
PIRATE = "Responda como um treinador pirata, citando os trechos."
DEFAULT_LINE = ANSWER_SYSTEM.splitlines()[0][:100]  # the echo model repeats its first 120 characters


@pytest.fixture
def app(settings, embeddings):
    with indexed_app(settings, embeddings) as client:
        client.app.state.services.chat_models.use(EchoChatModel())
        yield client


@pytest.fixture
def local(app):
    """A caller on this machine without the token (the server is bound to loopback)."""
    with TestClient(app.app, client=("127.0.0.1", 40000)) as client:
        yield client


def ask(client, prompt: str | None = None, **headers) -> str:
    config = {"configurable": {"answer_prompt": f"{prompt}\n{{context}}"}} if prompt else {}
    response = client.post("/ask/invoke", json={"input": {"question": QUESTION}, "config": config}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["output"]["answer"]


def test_a_public_caller_cannot_change_the_prompt_a_token_holder_can(app, local):
    assert DEFAULT_LINE in ask(local, PIRATE)
    assert PIRATE in ask(local, PIRATE, **AUTH)
    assert PIRATE in ask(app, PIRATE)  # `app` sends the token on every request


def test_query_takes_k_from_anyone_and_the_rest_only_with_the_token(app, local):
    body = {"question": QUESTION, "config": {"k": 1, "answer_prompt": f"{PIRATE}\n{{context}}"}}
    public = local.post("/query", json=body).json()
    assert len(public["sources"]) == 1 and DEFAULT_LINE in public["answer"]
    trusted = app.post("/query", json=body).json()
    assert len(trusted["sources"]) == 1 and PIRATE in trusted["answer"] and trusted["cached"] is False


def test_the_cache_never_serves_one_configurations_answer_to_another(app, local):
    pirate = {"question": QUESTION, "config": {"answer_prompt": f"{PIRATE}\n{{context}}"}}
    assert app.post("/query", json=pirate).json()["cached"] is False
    assert app.post("/query", json=pirate).json()["cached"] is True
    plain = local.post("/query", json={"question": QUESTION}).json()
    assert plain["cached"] is False and DEFAULT_LINE in plain["answer"]
    other_k = app.post("/query", json={**pirate, "config": {**pirate["config"], "k": 2}}).json()
    assert other_k["cached"] is False and len(other_k["sources"]) == 2
    assert ask(app, PIRATE) and PIRATE in ask(app, PIRATE)  # the graph's own lookup keys on the configuration too


@pytest.mark.parametrize("configurable", [{"k": 0}, {"k": 21}, {"temperature": 3}, {"answer_prompt": "sem contexto"},
                                          {"answer_prompt": "{context} e {outro}"}, {"retrieval_mode": "magic"}])
def test_bad_configuration_is_a_422_naming_the_field(app, configurable):
    response = app.post("/rag/invoke", json={"input": {"question": QUESTION}, "config": {"configurable": configurable}})
    assert response.status_code == 422
    assert list(configurable)[0] in str(response.json()["detail"])


def test_a_token_holder_changes_retrieval_per_run(app):
    def sources(**configurable):
        body = {"input": {"question": QUESTION}, "config": {"configurable": configurable}}
        return app.post("/rag/invoke", json=body).json()["output"]["sources"]

    assert len(sources(k=1)) == 1 and len(sources(k=3)) == 3
    assert sources(min_relevance=0.99) == []  # nothing is that similar: "not covered"
    assert sources(retrieval_mode="bm25", k=2)[0]["source"] == "guia-nutricao-e-recuperacao.docx"
