"""The answer chain's messages: question + passages (+ conversation) into a cited answer, a follow-up into a
standalone question, or the extractive fallback when no model is configured."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage

from chains.grounding import (
    best_sentences,
    cited_answer,
    cited_evidence,
    closest_passage,
    split_sentences,
    unsupported_numbers,
    unsupported_share,
    valid_citations,
)
from chains.prompts import EXTRACTIVE_HEADER
from chains.sources import format_context
from knowledge.retrieval import Passage

# Turns of the conversation the model sees besides the current question.
HISTORY_TURNS = 6
# What the model reads and what the extractive answer quotes (tuned on Pirá with the bundled 1.5B model).
MODEL_PASSAGES = 3
MODEL_SENTENCES = 3
EXTRACTIVE_SENTENCES = 2
# An uncited model answer more than half of whose terms the passages never use is not grounded in them.
MOST_TERMS_UNSUPPORTED = 0.5
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


def focused_passages(question: str, passages: Sequence[Passage]) -> list[Passage]:
    """What the model reads: the first MODEL_PASSAGES passages, each cut to its MODEL_SENTENCES best sentences in
    their own order (a short prompt is an early first token, and a small model strays less)."""
    focused = []
    for passage in passages[:MODEL_PASSAGES]:
        best = {sentence.text for sentence in best_sentences(question, [passage], MODEL_SENTENCES)}
        kept = [text for text in split_sentences(passage.text) if text in best]
        focused.append(replace(passage, text=" ".join(kept) or passage.text))
    return focused


def extractive_answer(question: str, passages: Sequence[Passage]) -> str:
    """Without a model: the sentences of the passages that answer best, each with its passage's number."""
    return f"{EXTRACTIVE_HEADER}\n\n{cited_answer(best_sentences(question, passages, EXTRACTIVE_SENTENCES))}"


def grounded_answer(written: str, question: str, passages: Sequence[Passage]) -> str:
    """The model's answer when the passages it cites support it, else their best sentences: a number none of them
    (nor the question) contains is never shown. An answer citing nothing is given the passage it rests on, or
    replaced when most of its terms appear in no passage (a cited answer may word things its own way: a run's
    prompt can ask for a style). A small model's habit of repeating the question first is dropped."""
    if written.casefold().startswith(question.strip().casefold()) and written.strip() != question.strip():
        written = written[len(question.strip()):].strip()
    evidence = cited_evidence(written, question, passages)
    cited = valid_citations(written, len(passages))
    if unsupported_numbers(written, evidence) or (
            not cited and unsupported_share(written, evidence) > MOST_TERMS_UNSUPPORTED):
        return cited_answer(best_sentences(question, passages, EXTRACTIVE_SENTENCES))
    return written if cited else f"{written} [{closest_passage(written, passages)}]"
