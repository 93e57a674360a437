"""Passages as the model sees them (numbered context) and as clients get them (source list)."""

from __future__ import annotations

from collections.abc import Sequence

from knowledge.retrieval import Passage

CITED = ("material_id", "source", "page", "location", "url")  # what a source keeps of its passage's metadata


def citation(passage: Passage) -> str:
    return f"{passage.source}, {passage.location}" if passage.location else passage.source


def format_context(passages: Sequence[Passage]) -> str:
    """The passages as the model reads them: numbered as the sources are, one line each, without their names (the
    student sees those in the sources; every token here delays the first one of the answer). A passage left empty
    keeps its number and is not shown."""
    return "\n".join(f"[{number}] {passage.text}" for number, passage in enumerate(passages, start=1) if passage.text)


def source_list(passages: Sequence[Passage]) -> list[dict]:
    return [
        {
            "material_id": passage.material_id,
            "source": passage.source,
            "page": passage.page,
            "location": passage.location,
            "url": passage.url,
            "text": passage.text,
            "score": round(passage.score, 6),
        }
        for passage in passages
    ]


def sources_note(sources: Sequence[dict]) -> str:
    """The sources under an answer, for clients that show only text (the chat playground)."""
    if not sources:
        return ""
    lines = [f"[{number}] {citation(passage)}" + (f" — {passage.url}" if passage.url else "")
             for number, passage in enumerate(passages_from_sources(sources), start=1)]
    return "\n\nFontes:\n" + "\n".join(lines)


def passages_from_sources(sources: Sequence[dict]) -> list[Passage]:
    """Sources kept in graph state are plain dicts (checkpoint-friendly); rebuild passages from them."""
    return [
        Passage(
            id=str(index),
            text=source["text"],
            metadata={key: source[key] for key in CITED if source.get(key)},
            score=source["score"],
        )
        for index, source in enumerate(sources)
    ]
