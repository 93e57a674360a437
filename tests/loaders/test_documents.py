"""Word, text, subtitles, videos and the registry's checks."""

import shutil
import subprocess

import pytest
from pydantic import SecretStr

from loaders.base import LoaderError, TranscriptRequired
from loaders.docx import load_docx
from loaders.registry import fingerprint, is_material, load_file
from loaders.subtitles import load_subtitles
from loaders.text import load_text
from loaders.video import load_video
from tests.conftest import SAMPLES, require


def test_docx_sections_follow_headings_and_keep_tables(settings):
    documents = load_docx(SAMPLES / "guia-nutricao-e-recuperacao.docx", settings)

    sections = [document.metadata.get("section") for document in documents]
    assert sections == ["Nutrição e recuperação para o treino de força", "Proteína", "Sono",
                        "Semana de descarga (deload)"]
    assert "1,6 a 2,2 gramas por quilo" in documents[1].page_content
    assert "Peito de frango | 100 g | 31" in documents[3].page_content




def test_markdown_and_cp1252_text_are_read(settings, tmp_path):
    markdown = tmp_path / "notas.md"
    markdown.write_text("# Aquecimento\n\nFaça 5 minutos de mobilidade.", encoding="utf-8")
    legacy = tmp_path / "antigo.txt"
    legacy.write_bytes("Exercício de força – séries".encode("cp1252"))

    assert load_text(markdown, settings)[0].page_content.startswith("# Aquecimento")
    assert load_text(legacy, settings)[0].page_content == "Exercício de força – séries"


def test_srt_passages_keep_their_timestamps(settings):
    settings.chunk_size = 200
    documents = load_subtitles(SAMPLES / "aula-01-tecnica-do-supino.srt", settings)

    assert documents[0].metadata["start"] == "00:00:01"
    assert documents[-1].metadata["end"] == "00:01:00"
    assert all(len(document.page_content) <= 200 for document in documents)
    assert "escápulas" in " ".join(document.page_content for document in documents)


def test_vtt_is_read(settings, tmp_path):
    path = tmp_path / "aula.vtt"
    path.write_text("WEBVTT\n\n00:01:05.000 --> 00:01:09.500\nMantenha a coluna neutra.\n", encoding="utf-8")

    documents = load_subtitles(path, settings)

    assert documents[0].page_content == "Mantenha a coluna neutra."
    assert (documents[0].metadata["start"], documents[0].metadata["end"]) == ("00:01:05", "00:01:09")



def test_video_without_transcript_asks_for_one(settings, tmp_path):
    settings.transcription_provider = "none"
    video = tmp_path / "aula-02.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42")

    with pytest.raises(TranscriptRequired, match="aula-02.srt") as raised:
        load_video(video, settings)
    assert raised.value.status == "needs_transcript"


def test_video_uses_its_sidecar_transcript_which_is_not_a_material_itself(settings, tmp_path):
    video = tmp_path / "aula-01.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    sidecar = tmp_path / "aula-01.srt"
    shutil.copy(SAMPLES / "aula-01-tecnica-do-supino.srt", sidecar)
    before = fingerprint(video)

    documents = load_video(video, settings)
    sidecar.write_text(sidecar.read_text() + "\n9\n00:01:01,000 --> 00:01:02,000\nFim.\n", encoding="utf-8")

    assert documents[0].metadata["transcript"] == "sidecar:aula-01.srt"
    assert is_material(video) and not is_material(sidecar)
    assert fingerprint(video) != before  # a new transcript means the video changed


def test_whisper_transcribes_a_video_when_a_key_is_set(settings, tmp_path, monkeypatch):
    require(shutil.which("ffmpeg") is not None, "ffmpeg is not installed")
    import httpx
    import openai

    video = tmp_path / "aula-03.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
                    "-f", "lavfi", "-i", "color=size=64x64:duration=2", "-shortest", str(video)], check=True)
    seen = {}

    def whisper(request: httpx.Request) -> httpx.Response:
        seen["path"], seen["body"] = request.url.path, request.read()
        return httpx.Response(200, json={"text": "Agache até a coxa ficar paralela.", "language": "pt",
                                         "duration": 2.0, "segments": [
            {"id": 0, "start": 0.0, "end": 2.0, "text": " Agache até a coxa ficar paralela.", "seek": 0,
             "tokens": [], "temperature": 0.0, "avg_logprob": 0.0, "compression_ratio": 1.0,
             "no_speech_prob": 0.0}]})

    real_client = openai.OpenAI
    monkeypatch.setattr(openai, "OpenAI", lambda **kwargs: real_client(
        **kwargs, http_client=httpx.Client(transport=httpx.MockTransport(whisper))))
    settings.openai_api_key, settings.transcription_provider = SecretStr("sk-test"), "openai"

    documents = load_video(video, settings)

    assert seen["path"].endswith("/audio/transcriptions")
    assert b"whisper-1" in seen["body"] and b"OggS" in seen["body"]  # ffmpeg-extracted Opus audio was sent
    assert documents[0].page_content == "Agache até a coxa ficar paralela."
    assert documents[0].metadata["transcript"] == "openai-whisper"


def test_registry_refuses_empty_huge_and_unknown_files(settings, tmp_path):
    empty = tmp_path / "vazio.pdf"
    empty.touch()
    huge = tmp_path / "enorme.txt"
    huge.write_bytes(b"a" * (2 * 1024 * 1024))
    unknown = tmp_path / "programa.exe"
    unknown.write_bytes(b"MZ")
    settings.max_file_mb = 1

    with pytest.raises(LoaderError, match="empty"):
        load_file(empty, settings)
    with pytest.raises(LoaderError, match="over the 1 MB limit"):
        load_file(huge, settings)
    with pytest.raises(LoaderError, match="Unsupported file type '.exe'"):
        load_file(unknown, settings)
