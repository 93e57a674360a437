"""Offline transcription with the bundled Whisper model: a pt-BR lesson synthesized with espeak-ng and muxed into
MP4 with ffmpeg, indexed with timestamps and cited by time; transcribed once per content; corrupt, silent,
video-only and over-budget files each fail alone with their own error while the batch goes on."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from loaders.subtitles import read_cues
from loaders.transcription import content_sha256, transcript_path
from tests.conftest import require

LESSON = ("Olá, nesta aula vamos falar sobre o agachamento. Mantenha os pés na largura dos ombros e desça até as "
          "coxas ficarem paralelas ao chão. Faça três séries de dez repetições com descanso de noventa segundos.")


def ffmpeg(*arguments: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *arguments], check=True)


def speech_video(target: Path, text: str) -> None:
    """espeak-ng's Brazilian voice over a black frame, as an MP4 (H.264 + AAC)."""
    speech = target.with_suffix(".wav")
    subprocess.run(["espeak-ng", "-v", "pt-br", "-s", "150", "-w", str(speech), text], check=True)
    ffmpeg("-f", "lavfi", "-i", "color=c=black:s=160x90:r=5", "-i", str(speech), "-shortest", "-c:v", "libx264",
           "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "32k", "-ac", "1", str(target))
    speech.unlink()


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    require(shutil.which("espeak-ng") is not None, "espeak-ng is not installed")
    require(shutil.which("ffmpeg") is not None, "ffmpeg is not installed")
    folder = tmp_path_factory.mktemp("clips")
    speech_video(folder / "aula-agachamento.mp4", LESSON)
    ffmpeg("-f", "lavfi", "-i", "color=c=black:s=160x90:r=5:d=3", "-c:v", "libx264", str(folder / "sem-audio.mp4"))
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "4", str(folder / "silencio.wav"))
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "40", "-b:a", "16k", str(folder / "longa.mp3"))
    (folder / "corrompido.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(2000))
    return folder


def test_a_lesson_is_transcribed_once_and_cited_by_time(services, clips):
    settings = services.settings
    settings.max_media_minutes = 0.5  # 30 s: the 15 s lesson passes, the 40 s recording does not
    root = settings.materials_path
    for clip in clips.iterdir():
        shutil.copy2(clip, root / clip.name)
    (root / "nota.txt").write_text("Anotação sem relação com vídeos.", encoding="utf-8")

    results = {result.file_name: result for result in services.ingestor.sync()}

    assert results["aula-agachamento.mp4"].status == "indexed", results["aula-agachamento.mp4"].error
    assert results["nota.txt"].status == "indexed"  # the batch goes on
    assert "no audio track" in results["sem-audio.mp4"].error
    assert "No speech was found" in results["silencio.wav"].error
    assert "over the 0.5-minute limit (MAX_MEDIA_MINUTES)" in results["longa.mp3"].error
    assert "Not a readable video or audio file" in results["corrompido.mp4"].error

    material_id = results["aula-agachamento.mp4"].material_id
    passages = [passage for passage in services.retriever.search("Quantas séries de agachamento devo fazer?", 4)
                if passage.material_id == material_id]
    assert passages, "the lesson is not retrieved"
    metadata = passages[0].metadata
    assert metadata["transcript"] == "local-whisper"
    assert passages[0].location == f"{metadata['start']}–{metadata['end']}" and metadata["start"].startswith("00:00:")
    transcript = " ".join(passage.text for passage in passages).lower()
    expected = {"agachamento", "pés", "ombros", "coxas", "séries", "repetições", "descanso", "segundos", "aula"}
    assert len({word for word in expected if word in transcript}) >= len(expected) // 2, transcript

    cues = read_cues(transcript_path(settings, content_sha256(root / "aula-agachamento.mp4")))
    assert all(a.start <= b.start for a, b in zip(cues, cues[1:], strict=False))
    assert all(0 <= cue.start < cue.end <= 15.5 for cue in cues)

    # Indexed again from scratch, with no engine at all: the kept transcript is used, nothing is transcribed.
    settings.transcription_provider = "none"
    services.ingestor.reset()
    again = {result.file_name: result for result in services.ingestor.sync()}
    assert again["aula-agachamento.mp4"].status == "indexed"
    assert services.retriever.search("agachamento", 4)[0].metadata["transcript"].startswith("transcript:")
