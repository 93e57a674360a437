"""What a run of the chat agent may change: the shared fields plus the prompt of its small talk."""

from __future__ import annotations

from pydantic import Field

from chains import prompts
from graphs.configuration import MAX_PROMPT_CHARS, BaseConfiguration


class Configuration(BaseConfiguration):
    chat_prompt: str = Field(
        prompts.CHAT_SYSTEM, min_length=1, max_length=MAX_PROMPT_CHARS,
        description="system prompt for greetings and thanks (answered without retrieval)",
    )
