"""A deterministic chat model for in-process tests: it answers like tests/support/openai_server.py."""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from tests.support.openai_server import reply_text


def _reply(messages: list[BaseMessage]) -> str:
    return reply_text([{"role": "system" if message.type == "system" else message.type, "content": message.content}
                       for message in messages])


def _chunks(messages: list[BaseMessage]) -> list[ChatGenerationChunk]:
    return [ChatGenerationChunk(message=AIMessageChunk(content=word if number == 0 else f" {word}"))
            for number, word in enumerate(_reply(messages).split(" "))]


class EchoChatModel(BaseChatModel):
    """Repeats the first line of its system prompt, word by word when streamed."""

    @property
    def _llm_type(self) -> str:
        return "echo"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(_reply(messages)))])

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        for chunk in _chunks(messages):
            if run_manager:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    async def _astream(self, messages, stop=None, run_manager=None, **kwargs):
        for chunk in _chunks(messages):  # natively async, like the hosted providers' clients
            if run_manager:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk
