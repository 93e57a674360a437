"""The long-lived parts (catalogue, index, embeddings, retriever, query cache, chat models), built once per process.

The RAG server builds them in its lifespan and registers them here; graph nodes, the CLI and `langgraph dev`
reach them through `get_services()`, which builds them from the settings on first use when nobody registered any.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import lru_cache

from langchain_core.embeddings import Embeddings

from core.embeddings import embeddings_name, make_embeddings, resolve_embeddings_provider
from core.llm import ChatModels
from core.redis_client import sync_client
from core.settings import Settings, get_settings
from knowledge.cache import QueryCache
from knowledge.catalog import Catalog
from knowledge.ingest import Ingestor
from knowledge.lexical import LexicalIndex, open_database
from knowledge.retrieval import Retriever
from knowledge.vectorstore import VectorIndex

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    catalog: Catalog
    embeddings: Embeddings
    index: VectorIndex
    lexical: LexicalIndex
    ingestor: Ingestor
    retriever: Retriever
    cache: QueryCache
    chat_models: ChatModels

    @property
    def llm_provider(self) -> str:
        return self.chat_models.provider

    @property
    def embeddings_provider(self) -> str:
        return resolve_embeddings_provider(self.settings)


def build_services(settings: Settings, embeddings: Embeddings | None = None) -> Services:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.materials_path.mkdir(parents=True, exist_ok=True)
    embeddings = embeddings or make_embeddings(settings)
    catalog = Catalog(settings.catalog_path)
    index = VectorIndex(settings, embeddings_name(embeddings), version_seen=catalog.index_version())
    lexical = LexicalIndex(open_database(settings.lexical_index_url, settings.lexical_path))
    if lexical.count() == 0 and index.count() > 0:
        # An index built before the lexical index was persisted: filled once, in the background (dense search
        # answers meanwhile); never again at a start.
        log.info("Filling the lexical index from the %d chunks of the vector index", index.count())
        threading.Thread(target=lexical.fill, args=(index.pages(),), name="lexical-fill", daemon=True).start()
    client = sync_client(settings.redis_url, settings.redis_cluster) if settings.redis_url else None
    chat_models = ChatModels(settings)
    name = embeddings_name(embeddings)

    def setup() -> dict:  # the model changes when the bundled one takes over from the extractive answerer
        return {"llm": chat_models.provider, "model": chat_models.default_model, "embeddings": name}

    return Services(
        settings=settings,
        catalog=catalog,
        embeddings=embeddings,
        index=index,
        lexical=lexical,
        ingestor=Ingestor(settings, catalog, index, lexical, embeddings),
        retriever=Retriever(index, lexical, catalog, embeddings),
        cache=QueryCache(settings, setup, catalog.index_version, client),
        chat_models=chat_models,
    )


_override: Services | None = None


@lru_cache
def _default_services() -> Services:
    return build_services(get_settings())


def get_services() -> Services:
    """The process's services; graph nodes and endpoints reach models and stores through this."""
    return _override or _default_services()


def use_services(services: Services | None) -> None:
    """Make every later get_services() return these (the RAG server's lifespan, tests, tools)."""
    global _override
    _override = services
