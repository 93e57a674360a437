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
from knowledge.sentences import SENTENCE_STOP, TABLE_CELL, split_sentences

CITED_NUMBERS = r"\d+(?:\s*[,;]\s*\d+)*"
CITATION = re.compile(rf"\[({CITED_NUMBERS})\]")
CITATION_MARK = re.compile(rf"(?P<space>\s*)\[(?P<numbers>{CITED_NUMBERS})\]")  # with the space before it
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# Numbers a passage may write out in words ("seis unidades"): what an answer's digits may rest on. "Um"/"uma" are
# articles far more often than numbers, so they are left out.
UNITS = {"dois": 2, "duas": 2, "três": 3, "quatro": 4, "cinco": 5, "seis": 6, "sete": 7, "oito": 8, "nove": 9}
TEENS = {"dez": 10, "onze": 11, "doze": 12, "treze": 13, "catorze": 14, "quatorze": 14, "quinze": 15,
         "dezesseis": 16, "dezessete": 17, "dezoito": 18, "dezenove": 19, "cem": 100}
TENS = {"vinte": 20, "trinta": 30, "quarenta": 40, "cinquenta": 50, "sessenta": 60, "setenta": 70, "oitenta": 80,
        "noventa": 90}
NUMBER_VALUES = {**UNITS, **TEENS, **TENS, "um": 1, "uma": 1}  # "um"/"uma" only after a ten: "vinte e um"
NUMBER_WORD = re.compile(
    rf"\b(?:({'|'.join(TENS)})(?:\s+e\s+(um|uma|{'|'.join(UNITS)}))?|({'|'.join([*UNITS, *TEENS])}))\b", re.IGNORECASE)
# Words that announce an answer without giving it.
ANNOUNCING = "vários várias diversos diversas muitos muitas maneiras formas modos tipos seguintes"
NEGATION = re.compile(r"\b(?:não|nunca|nem|jamais)\b", re.IGNORECASE)
# A sentence of the first passage outweighs an equal one of a later passage by this share (ranks are evidence).
RANK_PRIOR = 0.15
# An answer adding this many terms that neither the question nor its evidence uses may state what they do not hold.
INVENTED_TERMS = 2


@dataclass(frozen=True)
class Sentence:
    text: str
    passage: int  # 1-based number of its passage, as cited
    score: float


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


def without_invalid_citations(answer: str, passage_count: int) -> str:
    """The answer with its marks citing only passages that exist ("[4]" when the model read three is a link to a
    passage it never saw, or to none)."""
    def valid(mark: re.Match) -> str:
        numbers = [number for number in re.split(r"\s*[,;]\s*", mark["numbers"]) if 1 <= int(number) <= passage_count]
        return f"{mark['space']}[{', '.join(numbers)}]" if numbers else ""

    return CITATION_MARK.sub(valid, answer)


def _numbers(text: str) -> set[str]:
    # "1.000", "1000" and "1,000" are one number; "6,5" and "6.5" too (digits only, separators dropped).
    return {re.sub(r"[.,]", "", number) for number in NUMBER.findall(text)}


def _written_numbers(text: str) -> dict[str, str]:
    """The numbers a text writes out in words ("oito", "vinte e cinco"): their digits → the words as written."""
    return {str(sum(NUMBER_VALUES[word.lower()] for word in match.groups() if word)): match.group(0).lower()
            for match in NUMBER_WORD.finditer(text)}


def in_passage_words(answer: str, evidence: Sequence[str]) -> str:
    """The answer with a number the evidence writes only in words written as it does ("6 unidades" → "seis
    unidades" when the passage says so): the student reads the material's words. Citation marks are left alone."""
    digits = set().union(*(_numbers(text) for text in evidence))
    words = {digit: word for text in evidence for digit, word in _written_numbers(text).items()}

    def worded(match: re.Match) -> str:
        digit = re.sub(r"[.,]", "", match.group(0))
        if match.group(0).startswith("[") or digit in digits or digit not in words:
            return match.group(0)
        return words[digit].capitalize() if match.start() == 0 else words[digit]

    return re.sub(rf"{CITATION.pattern}|{NUMBER.pattern}", worded, answer)


def unsupported_numbers(answer: str, evidence: Sequence[str]) -> set[str]:
    """Numbers of the answer (its citation marks aside) that appear in none of the evidence texts, in digits or in
    words ("8" rests on "oito dimensões")."""
    supported = set().union(*(_numbers(text) | _written_numbers(text).keys() for text in evidence))
    return _numbers(CITATION.sub(" ", answer)) - supported


def unsupported_share(answer: str, evidence: Sequence[str]) -> float:
    """Share of the answer's content terms (stemmed) that the evidence never uses."""
    terms = tokenize([CITATION.sub(" ", answer), " ".join(evidence)])
    answer_terms = {term for term in terms[0] if not term.isdigit()}
    if not answer_terms:
        return 0.0
    return len(answer_terms - set(terms[1])) / len(answer_terms)


def states_its_own(answer: str, question: str, evidence: Sequence[str]) -> bool:
    """Whether the answer states what the evidence does not hold ("A respiração deve ser profunda e equilibrada" when
    no passage speaks of breathing): at least INVENTED_TERMS content terms (stemmed) that neither the question nor the
    evidence uses, and half or more of the terms it adds to the question (rewording the passages or restating the
    question stays within both)."""
    terms = tokenize([CITATION.sub(" ", answer), question, " ".join(evidence)])
    added = {term for term in terms[0] if not term.isdigit()} - set(terms[1])
    invented = added - set(terms[2])
    return len(invented) >= INVENTED_TERMS and 2 * len(invented) >= len(added)


def without_table_rows(answer: str) -> str:
    """The answer without the table rows a small model copies after its sentence ("… por série. Alimento | Porção |
    Proteína (g) [1]"): cells run into prose tell a student nothing (the cited passage still shows its table). An
    answer that is only rows ("Agachamento livre | 3 | 8-10 | 90 [1]" for "Qual o treino A?") keeps them."""
    if TABLE_CELL not in answer:
        return answer
    kept = []
    for line in answer.split("\n"):  # an answer in lines (a run's prompt may ask for a list) keeps them
        pieces = [piece for piece in SENTENCE_STOP.split(line) if TABLE_CELL not in piece]
        if pieces or not line.strip():
            kept.append(" ".join(pieces))
    prose = "\n".join(kept).strip()
    return prose if CITATION.sub("", prose).strip() else answer


def restates_question(answer: str, question: str) -> bool:
    """Whether an answer only says the question back ("Esportes de campo e taco.", "Os benefícios podem ser
    categorizados de várias maneiras."): no term or number the question lacks but words that announce an answer
    without giving one."""
    answer = CITATION.sub(" ", answer)
    terms = tokenize([answer, question, ANNOUNCING])
    return (set(terms[0]) <= set(terms[1]) | set(terms[2]) and _numbers(answer) <= _numbers(question)
            and bool(NEGATION.search(answer)) <= bool(NEGATION.search(question)))  # "não" is a stop word


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
