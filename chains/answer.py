"""The answer chain's messages: question + passages (+ conversation) into a cited answer, a follow-up into a
standalone question, or the extractive fallback when no model is configured."""

from __future__ import annotations

import re
from collections.abc import Sequence

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage

from chains.prompts import EXTRACTIVE_HEADER
from chains.sources import citation, format_context
from knowledge.retrieval import Passage

# Turns of the conversation the model sees besides the current question.
HISTORY_TURNS = 6
SMALL_TALK = re.compile(
    r"^\s*(oi+|ol[áa]|e a[ií]|bom dia|boa tarde|boa noite|obrigad[oa]|valeu|tchau|at[ée] mais|tudo bem)\b[\s!?.,]*"
    r"(tudo bem|obrigad[oa])?[\s!?.,]*$",
    re.IGNORECASE,
)


def is_small_talk(text: str) -> bool:
    return bool(SMALL_TALK.match(text))


def recent_history(messages: Sequence[AnyMessage]) -> list[AnyMessage]:
    turns = [message for message in messages if isinstance(message, HumanMessage | AIMessage)]
    return turns[-2 * HISTORY_TURNS :]


def earlier_questions(history: Sequence[AnyMessage]) -> list[str]:
    return [str(message.content) for message in recent_history(history) if isinstance(message, HumanMessage)]


def rewrite_messages(prompt: str, history: Sequence[AnyMessage], question: str) -> list[AnyMessage]:
    """Asks the model to make a follow-up ("e para iniciantes?") standalone, so that retrieval understands it."""
    transcript = "\n".join(
        f"{'Aluno' if isinstance(message, HumanMessage) else 'Assistente'}: {message.content}"
        for message in recent_history(history)
    )
    return [SystemMessage(prompt), HumanMessage(f"Conversa:\n{transcript}\n\nÚltima mensagem: {question}")]


def rewrite_without_model(history: Sequence[AnyMessage], question: str) -> str:
    """Without a model, the previous question gives the follow-up its subject."""
    earlier = earlier_questions(history)
    return f"{earlier[-1]} {question}" if earlier else question


def clean_rewrite(text: str, question: str) -> str:
    return text.strip().strip('"') or question


def answer_messages(prompt: str, question: str, passages: Sequence[Passage],
                    history: Sequence[AnyMessage]) -> list[AnyMessage]:
    return [
        SystemMessage(prompt.format(context=format_context(passages))),
        *recent_history(history),
        HumanMessage(question),
    ]


def chat_messages(prompt: str, question: str, history: Sequence[AnyMessage]) -> list[AnyMessage]:
    return [SystemMessage(prompt), *recent_history(history), HumanMessage(question)]


def extractive_answer(passages: Sequence[Passage]) -> str:
    quoted = "\n\n".join(
        f"[{number}] {passage.text.strip()}\n(fonte: {citation(passage)})"
        for number, passage in enumerate(passages, start=1)
    )
    return f"{EXTRACTIVE_HEADER}\n\n{quoted}"
