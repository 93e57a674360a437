"""Keeping answers to what the passages say: their best sentences for a question, the `[n]` citations of an answer,
and the numbers and terms of an answer that no cited passage (nor the question) contains."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from knowledge.lexical import tokenize
from knowledge.retrieval import Passage

# A sentence ends at . ! ? … before a capital, a digit or an opening quote, or at a line break.
SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[\"“'(\[A-ZÁÉÍÓÚÂÊÔÃÕÇ0-9])|\s*\n+\s*")
CITATION = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
SHORTEST_SENTENCE = 25  # characters; a shorter piece (a heading, "Fig. 2") joins the next one
# A sentence of the first passage outweighs an equal one of a later passage by this share (ranks are evidence).
RANK_PRIOR = 0.15


@dataclass(frozen=True)
class Sentence:
    text: str
    passage: int  # 1-based number of its passage, as cited
    score: float


def split_sentences(text: str) -> list[str]:
    sentences: list[str] = []
    carry = ""
    for piece in SENTENCE_END.split(text):
        piece = " ".join(piece.split()).lstrip(".,;: ")  # a chunk may open on the previous sentence's stop
        if not piece:
            continue
        # A heading ("Sono", cut off by its line break) introduces the sentence it is joined to.
        joint = ": " if carry and carry[-1] not in ".!?…:;,)" and piece[:1].isupper() else " "
        carry = f"{carry}{joint}{piece}".strip()
        if len(carry) >= SHORTEST_SENTENCE:
            sentences.append(carry)
            carry = ""
    if carry:
        if sentences:
            sentences[-1] = f"{sentences[-1]} {carry}"
        else:
            sentences.append(carry)
    return sentences


def ranked_sentences(question: str, passages: Sequence[Passage]) -> list[Sentence]:
    """Every sentence of the passages, best first: the rarer the question's terms it contains, the better."""
    pieces = [(number, text) for number, passage in enumerate(passages, start=1)
              for text in split_sentences(passage.text)]
    if not pieces:
        return []
    terms = tokenize([question, *(text for _, text in pieces)])
    wanted, sentence_terms = set(terms[0]), [set(words) for words in terms[1:]]
    frequency = Counter(term for words in sentence_terms for term in words & wanted)
    weight = {term: math.log(1 + len(pieces) / frequency[term]) for term in frequency}
    scored = []
    for (number, text), words in zip(pieces, sentence_terms, strict=True):
        overlap = sum(weight.get(term, 0.0) for term in words & wanted)
        # Long sentences match more by chance: a mild length penalty keeps the answer short.
        score = overlap / max(len(words), 1) ** 0.3 * (1 + RANK_PRIOR / number)
        scored.append(Sentence(text, number, score))
    return sorted(scored, key=lambda sentence: sentence.score, reverse=True)


def answering_sentences(question: str, passages: Sequence[Passage]) -> list[Sentence]:
    """The sentences sharing a term with the question, best first (all of them when none does)."""
    ranked = ranked_sentences(question, passages)
    return [sentence for sentence in ranked if sentence.score > 0] or ranked


def best_sentences(question: str, passages: Sequence[Passage], count: int) -> list[Sentence]:
    """The `count` sentences that answer best."""
    return answering_sentences(question, passages)[:count]


def cited_answer(sentences: Sequence[Sentence]) -> str:
    """Sentences as an answer, each followed by its passage's number."""
    return " ".join(f"{sentence.text} [{sentence.passage}]" for sentence in sentences)


def citations(answer: str) -> list[int]:
    """The passage numbers an answer cites, in order of first appearance."""
    numbers: list[int] = []
    for group in CITATION.findall(answer):
        for number in re.split(r"\s*[,;]\s*", group):
            if int(number) not in numbers:
                numbers.append(int(number))
    return numbers


def valid_citations(answer: str, passage_count: int) -> list[int]:
    return [number for number in citations(answer) if 1 <= number <= passage_count]


def _numbers(text: str) -> set[str]:
    # "1.000", "1000" and "1,000" are one number; "6,5" and "6.5" too (digits only, separators dropped).
    return {re.sub(r"[.,]", "", number) for number in NUMBER.findall(text)}


def unsupported_numbers(answer: str, evidence: Sequence[str]) -> set[str]:
    """Numbers of the answer (its citation marks aside) that appear in none of the evidence texts."""
    supported = set().union(*(_numbers(text) for text in evidence)) if evidence else set()
    return _numbers(CITATION.sub(" ", answer)) - supported


def unsupported_share(answer: str, evidence: Sequence[str]) -> float:
    """Share of the answer's content terms (stemmed) that the evidence never uses."""
    terms = tokenize([CITATION.sub(" ", answer), " ".join(evidence)])
    answer_terms = {term for term in terms[0] if not term.isdigit()}
    if not answer_terms:
        return 0.0
    return len(answer_terms - set(terms[1])) / len(answer_terms)


def cited_evidence(answer: str, question: str, passages: Sequence[Passage]) -> list[str]:
    """What an answer may rest on: its cited passages (all of them when it cites none) and the question."""
    cited = valid_citations(answer, len(passages)) or range(1, len(passages) + 1)
    return [question, *(passages[number - 1].text for number in cited)]


def same_words(first: str, second: str) -> bool:
    """Whether two texts say the same words, citations, case and punctuation aside."""
    return _words(first) == _words(second)


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", CITATION.sub(" ", text).casefold())


def number_source(answer: str, question: str, passages: Sequence[Passage]) -> int | None:
    """The 1-based number of the first passage holding every number of the answer that the question does not;
    None when no passage holds them all or the answer has no number of its own."""
    if not unsupported_numbers(answer, [question]):
        return None
    return next((number for number, passage in enumerate(passages, start=1)
                 if not unsupported_numbers(answer, [question, passage.text])), None)


def closest_passage(answer: str, passages: Sequence[Passage]) -> int:
    """The 1-based number of the passage sharing most terms with the answer."""
    terms = tokenize([answer, *(passage.text for passage in passages)])
    overlaps = [len(set(terms[0]) & set(words)) for words in terms[1:]]
    return overlaps.index(max(overlaps)) + 1
