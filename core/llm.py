"""Chat-model providers. `extractive` means no model: answers are the best passages, labelled as such.

`ChatModels` holds the process's models: one client per model name, loaded on first use, and cheap copies of
it with a run's temperature and answer length. It also bounds how many generations run at once: a llama.cpp
context is not thread-safe, so the local model writes one answer at a time per process, while hosted and
OpenAI-compatible models write up to LLM_MAX_CONCURRENCY at once. (How many requests may wait for a slot is
bounded by the servers' admission control.)
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from core.local_model import LOCAL_MODELS, ensure_local_model, local_model_installed
from core.settings import Settings


def resolve_llm_provider(settings: Settings) -> str:
    if settings.llm_provider != "auto":
        return settings.llm_provider
    if settings.keyed_provider is not None:
        return settings.keyed_provider
    if local_model_installed(settings.local_llm_model):
        return "local"
    return "extractive"


EXTRACTIVE = "extractive"


def default_model_name(settings: Settings, provider: str | None = None) -> str:
    """The model the provider (the configured one when None) answers with unless a run names another."""
    provider = provider or resolve_llm_provider(settings)
    return {"openai": settings.openai_model, "gemini": settings.gemini_model,
            "local": settings.local_llm_model}.get(provider, EXTRACTIVE)


def make_chat_model(settings: Settings, model: str | None = None,
                    provider: str | None = None) -> BaseChatModel | None:
    """The provider's chat model (the configured provider and model when None), or None for the extractive
    answerer.

    `streaming` is left unset: a call streams when someone listens for tokens (LangGraph's messages mode,
    astream_events) and is one plain request otherwise (/query), which costs less."""
    provider = provider or resolve_llm_provider(settings)
    if provider == "openai":
        from langchain_openai import ChatOpenAI

        if settings.openai_api_key is None and settings.openai_base_url is None:
            raise ValueError("LLM_PROVIDER=openai needs OPENAI_API_KEY (or OPENAI_BASE_URL for a local server)")
        return ChatOpenAI(
            model=model or settings.openai_model,
            api_key=settings.openai_api_key or "not-needed",
            base_url=settings.openai_base_url,
            temperature=settings.llm_temperature,
            max_completion_tokens=settings.llm_max_tokens,
            # llama.cpp and older OpenAI-compatible servers read only max_tokens.
            extra_body={"max_tokens": settings.llm_max_tokens},
            timeout=settings.llm_timeout_seconds,
            max_retries=1,
        )
    if provider == "gemini":
        from langchain_google_genai import ChatGoogleGenerativeAI

        return ChatGoogleGenerativeAI(
            model=model or settings.gemini_model,
            google_api_key=settings.api_key("gemini"),
            temperature=settings.llm_temperature,
            max_output_tokens=settings.llm_max_tokens,
            timeout=settings.llm_timeout_seconds,
        )
    if provider == "local":
        from langchain_community.chat_models import ChatLlamaCpp

        name = model or settings.local_llm_model
        if name not in LOCAL_MODELS:
            raise ValueError(f"The local provider has no model '{name}'; bundled: {', '.join(LOCAL_MODELS)}")
        model_path = ensure_local_model(name, settings.models_path)
        return ChatLlamaCpp(
            model_path=str(model_path),
            n_ctx=settings.local_llm_context,
            # The default n_batch of 8 doubles the time to the first token.
            n_batch=512,
            n_threads=settings.local_llm_threads or os.cpu_count(),
            max_tokens=settings.llm_max_tokens,
            # The bundled 1.5B model answers in one line: what follows a line break is a list it would write for
            # seconds, or a second answer (a hosted model has no such stop).
            stop=["\n"],
            temperature=settings.llm_temperature,
            verbose=False,
        )
    return None


def with_generation_options(chat_model: BaseChatModel, temperature: float, max_tokens: int) -> BaseChatModel:
    """A copy of `chat_model` with another temperature and answer length; it shares the loaded client."""
    name = type(chat_model).__name__
    if name == "ChatOpenAI":
        update = {"temperature": temperature, "max_tokens": max_tokens, "extra_body": {"max_tokens": max_tokens}}
    elif name == "ChatGoogleGenerativeAI":
        update = {"temperature": temperature, "max_output_tokens": max_tokens}
    else:
        update = {"temperature": temperature, "max_tokens": max_tokens}
    return chat_model.model_copy(update=update)


def warm_up(chat_model: BaseChatModel, system_prompt: str | None = None) -> None:
    """One token written now, so that the first student does not wait for the weights to be read (the local model:
    ~30 s on 2 cores). Given the answer's system prompt (its passages left out), the local model also keeps it
    evaluated: llama.cpp reuses the prefix a prompt shares with the previous one, so questions pay only for their
    passages."""
    messages = [SystemMessage(system_prompt), HumanMessage("Olá")] if system_prompt else "Olá"
    chat_model.invoke(messages, max_tokens=1)


class ChatModels:
    """The process's chat models and the bound on generations running at once.

    The provider is resolved once; `switch` changes it while the process runs (the bundled model, once
    prepared, takes over from the extractive answerer)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.provider = resolve_llm_provider(settings)
        self._loaded: dict[str, BaseChatModel | None] = {}
        self._loading = threading.Lock()
        # asyncio primitives belong to one event loop: one semaphore per loop (the server has one).
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def default_model(self) -> str:
        return default_model_name(self.settings, self.provider)

    @property
    def max_concurrency(self) -> int:
        # One llama.cpp context per model, never used by two generations at once.
        return 1 if self.provider == "local" else self.settings.llm_max_concurrency

    def is_loaded(self) -> bool:
        """Whether the default model is in memory (the extractive answerer always is)."""
        return self.default_model in self._loaded or self.default_model == EXTRACTIVE

    def get(self, model: str | None = None, temperature: float | None = None,
            max_tokens: int | None = None) -> BaseChatModel | None:
        """The named model (the default one when None) with these options; None for the extractive answerer."""
        name = model or self.default_model
        if name not in self._loaded:
            if name == EXTRACTIVE:  # also a run configured just before a switch: it ends as it began
                return None
            with self._loading:  # two first questions at once must not load the model twice
                if name not in self._loaded:
                    self._loaded[name] = make_chat_model(self.settings, name, self.provider)
        base = self._loaded[name]
        if base is None:
            return None
        temperature = self.settings.llm_temperature if temperature is None else temperature
        max_tokens = max_tokens or self.settings.llm_max_tokens
        if (temperature, max_tokens) == (self.settings.llm_temperature, self.settings.llm_max_tokens):
            return base
        return with_generation_options(base, temperature, max_tokens)

    async def aget(self, model: str | None = None, temperature: float | None = None,
                   max_tokens: int | None = None) -> BaseChatModel | None:
        """`get` for the event loop: a model not loaded yet is loaded in a worker thread (the local one reads
        1.1 GB)."""
        if (model or self.default_model) in self._loaded:
            return self.get(model, temperature, max_tokens)
        return await asyncio.to_thread(self.get, model, temperature, max_tokens)

    def use(self, chat_model: BaseChatModel, name: str | None = None) -> None:
        """Answer with this model object under `name` (the default model when None): a model of one's own in a
        notebook, a deterministic one in tests and benchmarks."""
        with self._loading:
            self._loaded[name or self.default_model] = chat_model

    def switch(self, provider: str, chat_model: BaseChatModel) -> None:
        """From now on answer with `chat_model`, already loaded, as the default model of `provider`."""
        with self._loading:
            self._loaded[default_model_name(self.settings, provider)] = chat_model
            self.provider = provider
            self._slots.clear()  # the next generation takes a slot under the new provider's bound

    async def warm(self, system_prompt: str | None = None) -> None:
        """Load the default model and have it write one token (see `warm_up`)."""
        model = await self.aget()
        if model is not None:
            async with self.slot():
                await asyncio.to_thread(warm_up, model, system_prompt)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one generation slot of this process while a model writes."""
        loop = asyncio.get_running_loop()
        semaphore = self._slots.get(loop)
        if semaphore is None:
            semaphore = self._slots.setdefault(loop, asyncio.Semaphore(self.max_concurrency))
        async with semaphore:
            yield
