"""SRT/VTT subtitles and video transcripts, grouped into passages that keep their timestamps."""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import webvtt
from langchain_core.documents import Document
from webvtt.errors import MalformedCaptionError, MalformedFileError

from core.settings import Settings
from loaders.base import LoaderError, decode_text


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str


def timestamp(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def read_cues(path: Path) -> list[Cue]:
    text = decode_text(path.read_bytes())
    if not text.strip():
        raise LoaderError("The subtitle file is empty")
    buffer = io.StringIO(text)
    try:
        if path.suffix.lower() == ".srt":
            captions = webvtt.from_buffer(buffer, format="srt")
        else:
            captions = webvtt.from_buffer(buffer, format="vtt")
    except (MalformedCaptionError, MalformedFileError) as error:
        raise LoaderError(f"The subtitle file is malformed ({error})") from None
    return [
        Cue(caption.start_in_seconds, caption.end_in_seconds, " ".join(caption.text.split()))
        for caption in captions
        if caption.text.strip()
    ]


def cue_documents(cues: Iterable[Cue], max_chars: int, metadata: dict | None = None) -> list[Document]:
    """Join consecutive cues into passages of at most max_chars, each with its start and end time."""
    documents: list[Document] = []
    group: list[Cue] = []

    def flush() -> None:
        if group:
            documents.append(
                Document(
                    page_content=" ".join(cue.text for cue in group),
                    metadata={
                        **(metadata or {}),
                        "start": timestamp(group[0].start),
                        "end": timestamp(group[-1].end),
                        "start_seconds": group[0].start,
                    },
                )
            )
            group.clear()

    for cue in cues:
        if group and sum(len(item.text) + 1 for item in group) + len(cue.text) > max_chars:
            flush()
        group.append(cue)
    flush()
    return documents


def load_subtitles(path: Path, settings: Settings) -> list[Document]:
    documents = cue_documents(read_cues(path), settings.chunk_size)
    if not documents:
        raise LoaderError("The subtitle file has no captions")
    return documents
