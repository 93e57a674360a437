"""The answer chain's messages: question + passages (+ conversation) into a cited answer, a follow-up into a
standalone question, or the extractive fallback when no model is configured."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import replace

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage

from chains.grounding import (
    CITATION,
    Sentence,
    answering_sentences,
    best_sentences,
    cited_evidence,
    closest_passage,
    in_passage_words,
    number_source,
    restates_question,
    same_words,
    states_its_own,
    unsupported_numbers,
    unsupported_share,
    valid_citations,
    without_invalid_citations,
    without_table_rows,
)
from chains.prompts import ANSWER_EXAMPLE, ANSWER_INSTRUCTIONS, ANSWER_SYSTEM, EXTRACTIVE_HEADER
from chains.sources import format_context
from knowledge.lexical import tokenize
from knowledge.retrieval import Passage
from knowledge.sentences import TABLE_CELL, split_sentences, table_header, table_rows, with_column_names

# Turns of the conversation the model sees besides the current question.
HISTORY_TURNS = 6
# What the model reads (words of the passages' best sentences) and what the extractive answer quotes; tuned on Pirá
# with the bundled 1.5B model, which reads ~40 tokens a second on 2 cores: 90 words are ~4 s before the first token.
MODEL_WORDS = 90
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


def clean_rewrite(text: str, history: Sequence[AnyMessage], question: str) -> str:
    """The model's standalone question, unless it lost a term of the follow-up (the bundled 1.5B model answers "E
    para iniciantes?" with the previous question alone): then the previous question and the follow-up together, as
    without a model."""
    rewritten = text.strip().strip('"')
    if not rewritten or not set(tokenize([question])[0]) <= set(tokenize([rewritten])[0]):
        return rewrite_without_model(history, question)
    return rewritten


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
    """What the model reads: the best sentences of the first two passages sharing terms with the question, then the
    passages' other such sentences, best first, up to MODEL_WORDS words (the first one whatever its length); each
    kept in its passage, in its own order there (a short prompt is an early first token, and a small model strays
    less). Shared terms alone can rank a sentence of the first passage over the answer in the second ("Quanta
    proteína por dia…?"): retrieval weighed more than that, so both passages are read. A table's header row comes
    with the rows under it that fit ("Qual o treino A?" shares terms with the header only). Passages are cut after the
    last one holding a chosen sentence; one before it holding none is left empty, so that every passage keeps the
    number it has among the sources."""
    ranked = answering_sentences(question, passages)
    best_of: dict[int, Sentence] = {}
    for sentence in ranked:
        best_of.setdefault(sentence.passage, sentence)
    leaders = [best_of[number] for number in sorted(best_of)[:2]]
    sentences = {number: split_sentences(passage.text) for number, passage in enumerate(passages, start=1)}
    chosen: set[tuple[int, str]] = set()
    words = 0
    for sentence in [*leaders, *ranked]:
        for text in [sentence.text, *table_rows(sentences[sentence.passage], sentence.text)]:
            length = len(text.split())
            if (sentence.passage, text) in chosen or (chosen and words + length > MODEL_WORDS):
                continue
            chosen.add((sentence.passage, text))
            words += length
    last = max((number for number, _ in chosen), default=0)
    return [replace(passage, text=as_read(sentences[number], [text for text in sentences[number]
                                                              if (number, text) in chosen]))
            for number, passage in enumerate(passages[:last], start=1)]


def as_read(sentences: Sequence[str], kept: Sequence[str]) -> str:
    """The kept sentences of a passage as the model reads them: table rows on lines of their own, with their column
    names."""
    lines = joined(kept).split("\n")
    return "\n".join(line if (header := table_header(sentences, line)) is None else with_column_names(line, header)
                     for line in lines)


def joined(sentences: Sequence[str]) -> str:
    """Sentences as a passage's text: a table row on a line of its own."""
    text = ""
    for previous, sentence in itertools.pairwise(["", *sentences]):
        separator = "\n" if TABLE_CELL in sentence or TABLE_CELL in previous else " "
        text = f"{text}{separator}{sentence}" if text else sentence
    return text


def extractive_answer(question: str, passages: Sequence[Passage]) -> str:
    """Without a model: the sentences of the passages that answer best, each with its passage's number."""
    return f"{EXTRACTIVE_HEADER}\n\n{supporting_sentences(question, passages)}"


def supporting_sentences(question: str, passages: Sequence[Passage]) -> str:
    """The sentences that answer best, each followed by its passage's number; a table's header row comes with the
    rows under it."""
    cited = []
    for sentence in best_sentences(question, passages, EXTRACTIVE_SENTENCES):
        rows = table_rows(split_sentences(passages[sentence.passage - 1].text), sentence.text)
        cited.append(f"{joined([sentence.text, *rows])} [{sentence.passage}]")
    return joined(cited)


def grounded_answer(written: str, question: str, passages: Sequence[Passage], prompt: str = ANSWER_SYSTEM) -> str:
    """The model's answer when the passages it cites support it, else their best sentences: a number none of them
    (nor the question) contains is never shown, nor an answer that states on its own what no passage holds (at least
    INVENTED_TERMS terms that neither the passages nor the question use, half or more of those it adds to the
    question: "A respiração deve ser profunda e equilibrada" where no passage speaks of breathing; with the default
    `prompt` only, whose instructions' words count as the passages' do: a run's own prompt may ask for a style). An
    answer citing nothing is given the passage it rests on, or replaced when most of its terms appear in no passage.
    An answer citing a passage that lacks its numbers, or citing nothing, cites the one that has them all. A small
    model's habit of repeating the question first is dropped, so are table rows it copies and marks citing no
    passage, and an answer that is only the opening of a list ("As principais causas são:", cut at the line break),
    only the question said back, or the default prompt's worked example is replaced. A number the cited passage
    writes in words is shown in them."""
    if written.casefold().startswith(question.strip().casefold()) and written.strip() != question.strip():
        written = written[len(question.strip()):].strip()
    written = without_invalid_citations(without_table_rows(written), len(passages))
    cited = valid_citations(written, len(passages))
    if cited and unsupported_numbers(written, cited_evidence(written, question, passages)):
        source = number_source(written, question, passages)  # a small model often cites the wrong passage
        written = CITATION.sub(f"[{source}]", written) if source else written
    evidence = cited_evidence(written, question, passages)
    if (not written or written.endswith(":") or same_words(written, ANSWER_EXAMPLE)
            or restates_question(written, question) or unsupported_numbers(written, evidence)
            or (not cited and unsupported_share(written, evidence) > MOST_TERMS_UNSUPPORTED)
            # The default instructions' words are the model's to use too (not its example's); a run's own prompt may
            # ask for a style of its own.
            or (prompt == ANSWER_SYSTEM and states_its_own(
                written, question, [ANSWER_INSTRUCTIONS, *(passage.text for passage in passages)]))):
        return supporting_sentences(question, passages)
    if not cited:
        written = f"{written} [{number_source(written, question, passages) or closest_passage(written, passages)}]"
    return in_passage_words(written, cited_evidence(written, question, passages))
