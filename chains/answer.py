"""The answer chain: question + passages (+ conversation) into a cited answer, or the extractive fallback."""

from __future__ import annotations

import re
from collections.abc import Sequence

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage

from chains.prompts import ANSWER_SYSTEM, EXTRACTIVE_HEADER, REWRITE_SYSTEM
from chains.sources import citation, format_context
from core.retrieval import Passage

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


def rewrite_question(llm: BaseChatModel | None, history: Sequence[AnyMessage], question: str) -> str:
    """A follow-up ("e para iniciantes?") made standalone so that retrieval understands it."""
    earlier = [message for message in recent_history(history) if isinstance(message, HumanMessage)]
    if not earlier:
        return question
    if llm is None:
        # Without a model, the previous question gives the follow-up its subject.
        return f"{earlier[-1].content} {question}"
    transcript = "\n".join(
        f"{'Aluno' if isinstance(message, HumanMessage) else 'Assistente'}: {message.content}"
        for message in recent_history(history)
    )
    response = llm.invoke(
        [SystemMessage(REWRITE_SYSTEM), HumanMessage(f"Conversa:\n{transcript}\n\nÚltima mensagem: {question}")],
        config={"tags": ["rewrite"]},
    )
    rewritten = str(response.content).strip().strip('"')
    return rewritten or question


def answer_messages(question: str, passages: Sequence[Passage], history: Sequence[AnyMessage]) -> list[AnyMessage]:
    return [
        SystemMessage(ANSWER_SYSTEM.format(context=format_context(passages))),
        *recent_history(history),
        HumanMessage(question),
    ]


def extractive_answer(passages: Sequence[Passage]) -> str:
    quoted = "\n\n".join(
        f"[{number}] {passage.text.strip()}\n(fonte: {citation(passage)})"
        for number, passage in enumerate(passages, start=1)
    )
    return f"{EXTRACTIVE_HEADER}\n\n{quoted}"
