"""The long-lived parts (catalogue, index, embeddings, retriever, chat model), built once per process."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import lru_cache

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel

from core.cache import QueryCache
from core.catalog import Catalog
from core.embeddings import embeddings_name, make_embeddings, resolve_embeddings_provider
from core.ingest import Ingestor
from core.llm import make_chat_model, resolve_llm_provider
from core.redis_client import sync_client
from core.retrieval import Retriever
from core.settings import Settings, get_settings
from core.vectorstore import VectorIndex


@dataclass
class Services:
    settings: Settings
    catalog: Catalog
    embeddings: Embeddings
    index: VectorIndex
    ingestor: Ingestor
    retriever: Retriever
    cache: QueryCache
    # llama.cpp contexts are not thread-safe: one generation at a time per process.
    llm_lock: threading.Lock = field(default_factory=threading.Lock)
    _llm_loading: threading.Lock = field(default_factory=threading.Lock)
    _llm: BaseChatModel | None = field(default=None, init=False)
    _llm_loaded: bool = field(default=False, init=False)

    @property
    def llm(self) -> BaseChatModel | None:
        """The chat model, loaded on first use (None for the extractive answerer)."""
        if not self._llm_loaded:
            with self._llm_loading:  # two first questions at once must not load the model twice
                if not self._llm_loaded:
                    self._llm, self._llm_loaded = make_chat_model(self.settings), True
        return self._llm

    @property
    def llm_provider(self) -> str:
        return resolve_llm_provider(self.settings)

    @property
    def embeddings_provider(self) -> str:
        return resolve_embeddings_provider(self.settings)


def build_services(settings: Settings, embeddings: Embeddings | None = None) -> Services:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.materials_path.mkdir(parents=True, exist_ok=True)
    embeddings = embeddings or make_embeddings(settings)
    catalog = Catalog(settings.catalog_path)
    index = VectorIndex(settings, embeddings_name(embeddings), version_seen=catalog.index_version())
    client = sync_client(settings.redis_url) if settings.redis_url else None
    return Services(
        settings=settings,
        catalog=catalog,
        embeddings=embeddings,
        index=index,
        ingestor=Ingestor(settings, catalog, index, embeddings),
        retriever=Retriever(index, catalog, embeddings, settings.retrieval_mode),
        cache=QueryCache(settings, answering_setup(settings, embeddings), catalog.index_version, client),
    )


def answering_setup(settings: Settings, embeddings: Embeddings) -> dict:
    """What, besides the question and the index, decides an answer (part of every cache key)."""
    provider = resolve_llm_provider(settings)
    model = {"openai": settings.openai_model, "gemini": settings.gemini_model, "local": settings.local_llm_model}
    return {
        "llm": [provider, model.get(provider), settings.llm_temperature, settings.llm_max_tokens],
        "embeddings": embeddings_name(embeddings),
        "retrieval": [settings.retrieval_mode, settings.retrieval_k, settings.min_relevance],
    }


_override: Services | None = None


@lru_cache
def _default_services() -> Services:
    return build_services(get_settings())


def get_services() -> Services:
    """The process's services; graph nodes and endpoints reach models and stores through this."""
    return _override or _default_services()


def use_services(services: Services | None) -> None:
    """Make every later get_services() return these (tests and tools that build their own)."""
    global _override
    _override = services
