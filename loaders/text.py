"""Plain text and Markdown."""

from __future__ import annotations

from pathlib import Path

from langchain_core.documents import Document

from core.settings import Settings
from loaders.base import LoaderError, decode_text


def load_text(path: Path, settings: Settings) -> list[Document]:
    text = decode_text(path.read_bytes()).strip()
    if not text:
        raise LoaderError("The file has no text")
    return [Document(page_content=text, metadata={})]
