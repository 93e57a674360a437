"""The file types the knowledge base reads, without importing a parser (the API server checks uploads with it)."""

from __future__ import annotations

# Video and audio, read through a transcript: a sidecar .srt/.vtt beside the file, or Whisper.
VIDEO_EXTENSIONS = frozenset({".mp4", ".mkv", ".mov", ".webm", ".avi", ".m4v", ".mp3", ".m4a", ".wav", ".ogg",
                              ".opus"})
DOCUMENT_EXTENSIONS = frozenset({
    ".pdf", ".xlsx", ".xlsm", ".xls", ".ods", ".docx", ".csv", ".txt", ".md", ".srt", ".vtt",
})
SUPPORTED_EXTENSIONS = DOCUMENT_EXTENSIONS | VIDEO_EXTENSIONS
