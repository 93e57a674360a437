"""What a run of either graph may change: prompts, retrieval and the model. Read from `config["configurable"]`.

Defaults come from the settings (and the prompts from `chains/prompts.py`), so a run that sets nothing answers
as the deployment is configured. The servers decide who may set what (see `servers/rag/run_config.py`).
"""

from __future__ import annotations

from typing import Any, Self

from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chains import prompts
from core.settings import RetrievalMode, get_settings
from graphs.json_schema import without_null_alternatives

MAX_PROMPT_CHARS = 20_000


class BaseConfiguration(BaseModel):
    """Fields both graphs share. Every field may be left out: the prompts default to `chains/prompts.py`, the
    rest (null here) to the deployment's settings (RETRIEVAL_K, RETRIEVAL_MODE, MIN_RELEVANCE, the provider's
    model, LLM_TEMPERATURE, LLM_MAX_TOKENS)."""

    model_config = ConfigDict(extra="ignore", frozen=True, json_schema_extra=without_null_alternatives)

    answer_prompt: str = Field(
        prompts.ANSWER_SYSTEM, min_length=1, max_length=MAX_PROMPT_CHARS,
        description="system prompt of the answer; `{context}` is replaced by the numbered passages",
    )
    rewrite_prompt: str = Field(
        prompts.REWRITE_SYSTEM, min_length=1, max_length=MAX_PROMPT_CHARS,
        description="system prompt that turns a follow-up into a standalone question",
    )
    k: int | None = Field(None, ge=1, le=20, description="passages to retrieve")
    retrieval_mode: RetrievalMode | None = Field(
        None, description="dense (e5), bm25, or hybrid (both, fused by standardized score)")
    min_relevance: float | None = Field(
        None, ge=0.0, le=1.0, description="relevance under which the materials do not cover a question (see "
        "MIN_RELEVANCE); 0: every question is answered from its best passages"
    )
    model: str | None = Field(None, min_length=1, max_length=200, description="chat model of the configured provider "
                              "(unset: the one the server answers with now)")
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(None, ge=1, le=8192, description="longest answer, in tokens")

    @model_validator(mode="before")
    @classmethod
    def _settings_for_the_rest(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        settings = get_settings()
        defaults = {"k": settings.retrieval_k, "retrieval_mode": settings.retrieval_mode,
                    "min_relevance": settings.min_relevance,
                    "temperature": settings.llm_temperature, "max_tokens": settings.llm_max_tokens}
        return {**values, **{name: value for name, value in defaults.items() if values.get(name) is None}}

    @field_validator("answer_prompt")
    @classmethod
    def _has_context(cls, value: str) -> str:
        try:
            value.format(context="")
        except (KeyError, IndexError, ValueError) as error:
            raise ValueError(
                f"answer_prompt must contain {{context}} and no other {{placeholder}} (double other braces): {error}"
            ) from None
        if "{context}" not in value:
            raise ValueError("answer_prompt must contain {context}, where the passages go")
        return value

    @classmethod
    def from_runnable_config(cls, config: RunnableConfig | None = None) -> Self:
        """The configuration of this run: the `configurable` keys that are fields, the defaults for the rest."""
        configurable: dict[str, Any] = (config or {}).get("configurable") or {}
        given = {name: configurable[name] for name in cls.model_fields if configurable.get(name) is not None}
        return cls.model_validate(given)

    def fingerprint(self) -> dict:
        """Everything that decides an answer besides the question and the index (part of the cache key)."""
        return self.model_dump()


def checked_configuration(configuration: type[BaseConfiguration], configurable: dict[str, Any]) -> dict[str, Any]:
    """The fields of `configuration` that `configurable` sets, validated (pydantic's ValidationError if not);
    other keys (a thread id, LangGraph's own) are left out."""
    given = {name: value for name, value in configurable.items()
             if name in configuration.model_fields and value is not None}
    return configuration.model_validate(given).model_dump(include=set(given))
