"""Speech to timed text for video and audio materials: which engine runs, the checks before it does, the bundled
Whisper model (faster-whisper, int8, voice-activity filter on), and transcripts kept by content so the same
media is never transcribed twice (DATA_DIR/transcripts/<sha256>.vtt)."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
from pathlib import Path

import webvtt

from core.local_model import LocalModelUnavailable, ensure_whisper_model, whisper_model_installed
from core.settings import Settings
from loaders.base import LoaderError
from loaders.subtitles import Cue, read_cues


def transcription_engine(settings: Settings) -> str | None:
    """local | openai | None (no way to transcribe), from TRANSCRIPTION_PROVIDER and what is installed."""
    provider = settings.transcription_provider
    if provider == "auto":
        if whisper_model_installed(settings.models_path):
            return "local"
        return "openai" if settings.openai_api_key is not None else None
    return None if provider == "none" else provider


def media_minutes(path: Path, timeout: float) -> float:
    """The media's length (ffprobe, stopped after `timeout`); a clear error for a file that is not media or has no
    sound to transcribe."""
    try:
        result = subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_type", "-of", "json", str(path)],
            capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise LoaderError("ffmpeg (ffprobe) is needed to read video and audio: install the ffmpeg package") from None
    except subprocess.TimeoutExpired:
        raise LoaderError(f"ffprobe took longer than {timeout:g} s to read the media and was stopped "
                          "(FFMPEG_TIMEOUT_SECONDS)") from None
    try:
        probe = json.loads(result.stdout or "{}")
    except ValueError:
        probe = {}
    if result.returncode != 0 or "format" not in probe:
        raise LoaderError(f"Not a readable video or audio file ({result.stderr.strip()[:200] or 'unknown format'})")
    if not any(stream.get("codec_type") == "audio" for stream in probe.get("streams", [])):
        raise LoaderError("The file has no audio track: there is nothing to transcribe")
    try:
        return float(probe["format"].get("duration") or 0) / 60
    except ValueError:
        return 0.0


def check_budget(path: Path, settings: Settings) -> None:
    minutes = media_minutes(path, settings.ffmpeg_timeout_seconds)
    if minutes > settings.max_media_minutes:
        raise LoaderError(f"{minutes:.0f} minutes of media, over the {settings.max_media_minutes:g}-minute limit "
                          "(MAX_MEDIA_MINUTES); add a .srt/.vtt transcript beside it instead")


def content_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def transcript_path(settings: Settings, sha256: str) -> Path:
    return settings.data_dir / "transcripts" / f"{sha256}.vtt"


def save_transcript(cues: list[Cue], target: Path) -> None:
    document = webvtt.WebVTT()
    for cue in cues:
        document.captions.append(webvtt.Caption(_vtt_time(cue.start), _vtt_time(cue.end), cue.text))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.write_text(document.content, encoding="utf-8")
    os.replace(partial, target)


def kept_transcript(settings: Settings, sha256: str) -> list[Cue] | None:
    path = transcript_path(settings, sha256)
    return read_cues(path) if path.is_file() else None


def _vtt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    return f"{millis // 3_600_000:02d}:{millis // 60_000 % 60:02d}:{millis // 1000 % 60:02d}.{millis % 1000:03d}"


@functools.lru_cache(maxsize=1)
def _whisper(models_dir: Path, compute_type: str, threads: int):
    """The model, loaded once per process (the parsing child lives on between files) and kept for the next."""
    from faster_whisper import WhisperModel

    return WhisperModel(str(ensure_whisper_model(models_dir)), device="cpu", compute_type=compute_type,
                        cpu_threads=threads, local_files_only=True)


def transcribe_locally(path: Path, settings: Settings) -> list[Cue]:
    try:  # the `transcription` extra: not every installation has it
        import av

        model = _whisper(settings.models_path, settings.transcription_compute_type,
                         settings.transcription_threads or os.cpu_count() or 1)
    except (ImportError, LocalModelUnavailable) as error:
        raise LoaderError(f"The bundled Whisper model cannot be used: {error}") from None
    try:
        segments, _ = model.transcribe(str(path), language=settings.transcription_language, vad_filter=True)
        return [Cue(segment.start, segment.end, segment.text.strip()) for segment in segments if segment.text.strip()]
    except (av.FFmpegError, ValueError, RuntimeError) as error:
        raise LoaderError(f"The audio could not be transcribed ({type(error).__name__}: {error})") from None
