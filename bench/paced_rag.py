"""The RAG server with a chat model that emits one word every PACE_MS milliseconds (for bench/stream.py).

Usage: PACE_MS=20 python bench/paced_rag.py PORT
"""

from __future__ import annotations

import os
import sys
import time

import uvicorn
from common import REPO  # noqa: F401 (puts the repository on sys.path)
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

ANSWER_TEXT = ("Para hipertrofia faça de 6 a 12 repetições por série, com 3 a 5 séries por exercício e 60 a 120 "
               "segundos de descanso, chegando perto da falha [1].")
ANSWER = ANSWER_TEXT.split(" ")


class PacedChatModel(BaseChatModel):
    pace_seconds: float = 0.02

    @property
    def _llm_type(self) -> str:
        return "paced-fake"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(" ".join(ANSWER)))])

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        for number, word in enumerate(ANSWER):
            time.sleep(self.pace_seconds)
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=word if number == 0 else f" {word}"))
            if run_manager:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk


if __name__ == "__main__":
    from knowledge.services import get_services
    from servers.rag.app import create_app

    services = get_services()
    services.chat_models.use(PacedChatModel(pace_seconds=int(os.environ.get("PACE_MS", "20")) / 1000))
    uvicorn.run(create_app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
