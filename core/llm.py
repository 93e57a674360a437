"""Chat-model providers. `extractive` means no model: answers are the best passages, labelled as such."""

from __future__ import annotations

import os

from langchain_core.language_models import BaseChatModel

from core.local_model import ensure_local_model, local_model_installed
from core.settings import Settings


def resolve_llm_provider(settings: Settings) -> str:
    if settings.llm_provider != "auto":
        return settings.llm_provider
    if settings.keyed_provider is not None:
        return settings.keyed_provider
    if local_model_installed(settings.local_llm_model):
        return "local"
    return "extractive"


def make_chat_model(settings: Settings) -> BaseChatModel | None:
    """The configured chat model, or None for the extractive answerer."""
    provider = resolve_llm_provider(settings)
    if provider == "openai":
        from langchain_openai import ChatOpenAI

        if settings.openai_api_key is None and settings.openai_base_url is None:
            raise ValueError("LLM_PROVIDER=openai needs OPENAI_API_KEY (or OPENAI_BASE_URL for a local server)")
        return ChatOpenAI(
            model=settings.openai_model,
            api_key=settings.openai_api_key or "not-needed",
            base_url=settings.openai_base_url,
            temperature=settings.llm_temperature,
            max_completion_tokens=settings.llm_max_tokens,
            # llama.cpp and older OpenAI-compatible servers read only max_tokens.
            extra_body={"max_tokens": settings.llm_max_tokens},
            timeout=settings.llm_timeout_seconds,
            streaming=True,
        )
    if provider == "gemini":
        from langchain_google_genai import ChatGoogleGenerativeAI

        return ChatGoogleGenerativeAI(
            model=settings.gemini_model,
            google_api_key=settings.api_key("gemini"),
            temperature=settings.llm_temperature,
            max_output_tokens=settings.llm_max_tokens,
            timeout=settings.llm_timeout_seconds,
        )
    if provider == "local":
        from langchain_community.chat_models import ChatLlamaCpp

        model_path = ensure_local_model(settings.local_llm_model, settings.models_path)
        return ChatLlamaCpp(
            model_path=str(model_path),
            n_ctx=settings.local_llm_context,
            # The default n_batch of 8 doubles the time to the first token.
            n_batch=512,
            n_threads=settings.local_llm_threads or os.cpu_count(),
            max_tokens=settings.llm_max_tokens,
            temperature=settings.llm_temperature,
            streaming=True,
            verbose=False,
        )
    return None
