"""Every endpoint of the RAG server, in process, on the real stores and embedding model."""

import re

import pytest
from fastapi.testclient import TestClient

from core.contracts import THREAD_HEADER
from tests.conftest import AUTH, SAMPLES


@pytest.fixture
def client(services):
    from servers.rag.app import create_app

    with TestClient(create_app(), headers=AUTH) as client:
        yield client


def _wait(client, job_id, headers=None):
    job = client.app.state.jobs.wait(job_id)
    response = client.get(f"/jobs/{job.id}", headers=headers or {})
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def indexed(client, materials):
    job = _wait(client, client.post("/process-materials").json()["job_id"])
    assert job["state"] == "completed"
    return job


def test_health_and_status_describe_the_service(client, indexed):
    assert client.get("/health").json() == {"status": "ok", "degraded": [], "checks": {}}
    status = client.get("/status").json()
    assert status["providers"]["llm"] == "extractive"
    assert status["providers"]["embedding_model"] == "local:multilingual-e5-small-enpt-q4"
    assert status["counts"] == {"chunks": 11, "materials": {"indexed": 5}}
    assert status["capabilities"]["transcription"] == "local"  # the bundled Whisper model
    assert status["capabilities"]["transcription_language"] == "pt"
    assert status["last_job"]["id"] == indexed["id"]
    assert status["versions"]["langgraph"]


def test_process_materials_job_reports_progress_and_results(client, indexed):
    assert (indexed["files_done"], indexed["files_total"]) == (5, 5)
    assert indexed["chunks_done"] == indexed["chunks_total"] == 11
    assert {r["status"] for r in indexed["results"]} == {"indexed"} and indexed["errors"] == []


def test_process_materials_with_unknown_file_is_404(client):
    response = client.post("/process-materials", json={"files": ["nao-existe.pdf"]})
    assert response.status_code == 404 and "nao-existe.pdf" in response.json()["detail"]


def test_unknown_job_is_404(client):
    assert client.get("/jobs/ffff").status_code == 404


def test_query_answers_with_the_best_sentences_and_whole_chunk_sources(client, indexed):
    response = client.post("/query", json={"question": "Quanta proteína devo comer por dia?", "config": {"k": 2}})

    body = response.json()
    assert response.status_code == 200
    assert len(body["sources"]) == 2
    top = body["sources"][0]
    assert top["source"] == "guia-nutricao-e-recuperacao.docx"
    assert body["answer"].startswith("Resposta extrativa")
    assert "1,6 a 2,2 gramas por quilo de peso corporal, dividida em 3 a 5 refeições" in body["answer"]
    assert "[1]" in body["answer"] and top["text"] not in body["answer"]  # a sentence, not the whole chunk
    assert set(top) == {"material_id", "source", "page", "location", "url", "text", "score"}


def test_query_filtered_by_material_only_cites_that_material(client, indexed):
    pdf = next(m for m in client.get("/materials").json() if m["file_name"].endswith(".pdf"))

    body = client.post("/query", json={"question": "Quantas séries fazer?", "material_ids": [pdf["id"]]}).json()

    assert body["sources"] and {s["material_id"] for s in body["sources"]} == {pdf["id"]}
    assert all(s["page"] in (1, 2, 3) for s in body["sources"])


def test_off_topic_question_says_the_materials_do_not_cover_it(client, indexed):
    body = client.post("/query", json={"question": "Qual a capital da França?"}).json()
    assert body["sources"] == [] and "Não encontrei nos materiais" in body["answer"]


def test_query_rejects_an_empty_question(client):
    assert client.post("/query", json={"question": ""}).status_code == 422


def test_stats_count_materials_chunks_and_queries(client, indexed):
    client.post("/query", json={"question": "O que é deload?"})
    stats = client.get("/stats").json()
    assert stats["chunks"] == 11 and stats["materials"] == 5 and stats["queries"] == 1
    assert stats["materials_by_type"] == {".pdf": 1, ".xlsx": 1, ".docx": 1, ".srt": 1, ".mp4": 1}


def test_upload_indexes_the_file_and_download_returns_it(client):
    content = (SAMPLES / "aula-01-tecnica-do-supino.srt").read_bytes()

    response = client.post("/materials", files={"files": ("../../Aula 1: supino?.SRT", content)})

    assert response.status_code == 201
    [material] = response.json()["materials"]
    assert material["file_name"] == "Aula 1- supino-.srt"
    job = _wait(client, response.json()["job_id"])
    assert job["results"][0]["status"] == "indexed"
    download = client.get(f"/materials/{material['id']}/file")
    assert download.content == content
    assert client.get(f"/materials/{material['id']}").json()["status"] == "indexed"


def test_upload_refuses_wrong_type_empty_huge_and_duplicate_files(client, services, indexed):
    services.settings.max_file_mb = 1
    assert client.post("/materials", files={"files": ("virus.exe", b"MZ")}).status_code == 415
    assert client.post("/materials", files={"files": ("vazio.pdf", b"")}).status_code == 400
    huge = client.post("/materials", files={"files": ("grande.txt", b"a" * (1024 * 1024 + 1))})
    assert huge.status_code == 413 and "MAX_FILE_MB" in huge.json()["detail"]
    subtitles = (SAMPLES / "aula-01-tecnica-do-supino.srt").read_bytes()
    twin = client.post("/materials", files={"files": ("copia.srt", subtitles)})
    assert twin.status_code == 409 and "aula-01-tecnica-do-supino.srt" in twin.json()["detail"]
    stored = sorted(path.name for path in services.settings.materials_path.iterdir())
    assert stored == sorted(path.name for path in SAMPLES.iterdir())


def test_delete_material_removes_file_and_vectors(client, services, indexed):
    docx = next(m for m in client.get("/materials").json() if m["file_name"].endswith(".docx"))

    response = client.delete(f"/materials/{docx['id']}")

    assert response.json() == {"material_id": docx["id"], "file_name": docx["file_name"], "vectors_removed": 4}
    assert client.get(f"/materials/{docx['id']}").status_code == 404
    assert services.index.count() == 7
    assert client.delete(f"/materials/{docx['id']}").status_code == 404


def test_materials_list_shows_pending_files_before_processing(client, materials):
    listed = client.get("/materials").json()
    assert len(listed) == 5 and {m["status"] for m in listed} == {"pending"}


def test_reset_needs_confirmation_then_empties_the_index(client, services, indexed):
    assert client.post("/reset", json={}).status_code == 422
    assert client.post("/reset", json={"confirm": "yes"}).status_code == 422

    response = client.post("/reset", json={"confirm": "RESET"})

    assert response.json() == {"status": "reset", "chunks_removed": 11, "files_deleted": 0}
    assert services.index.count() == 0 and services.catalog.materials() == []
    assert len(list(services.settings.materials_path.iterdir())) == 5


def test_initialize_loads_models_and_indexes_the_folder(client, materials):
    body = client.post("/initialize").json()
    assert body["llm_provider"] == "extractive"
    assert _wait(client, body["job_id"])["files_done"] == 5


def test_rag_graph_remembers_a_thread_across_http_calls(client, indexed):
    headers = {THREAD_HEADER: "aluno-1:conversa-1"}
    first = client.post("/rag/invoke", json={"input": {"question": "Quantas repetições para hipertrofia?"}},
                        headers=headers)
    second = client.post("/rag/invoke", json={"input": {"question": "E para força máxima?"}}, headers=headers)
    other = client.post("/rag/invoke", json={"input": {"question": "E para força máxima?"}},
                        headers={THREAD_HEADER: "aluno-2:conversa-1"})

    assert first.status_code == second.status_code == 200
    assert second.json()["output"]["standalone_question"] == "Quantas repetições para hipertrofia? E para força máxima?"
    assert other.json()["output"]["standalone_question"] == "E para força máxima?"


def test_chat_graph_answers_small_talk_without_retrieval_and_questions_with_sources(client, indexed):
    headers = {THREAD_HEADER: "aluno-1:chat"}
    hello = client.post("/chat/invoke", json={"input": {"messages": [{"type": "human", "content": "Olá!"}]}},
                        headers=headers).json()["output"]
    question = client.post("/chat/invoke", json={"input": {"messages": [
        {"type": "human", "content": "Quanto tempo devo dormir por noite?"}]}}, headers=headers).json()["output"]

    assert hello["sources"] == [] and "assistente do curso" in hello["answer"]
    assert question["sources"][0]["source"] == "guia-nutricao-e-recuperacao.docx"


def test_bad_thread_id_is_400(client):
    response = client.post("/rag/invoke", json={"input": {"question": "oi"}}, headers={THREAD_HEADER: "a b/c"})
    assert response.status_code == 400


def test_rag_batch_and_chat_stream_endpoints(client, indexed):
    batch = client.post("/rag/batch", json={"inputs": [{"question": "O que é deload?"},
                                                       {"question": "Qual a capital da França?"}]})
    with client.stream("POST", "/chat/stream", json={"input": {"messages": [
            {"type": "human", "content": "Como posicionar as escápulas no supino?"}]}}) as stream:
        events = [line for line in stream.iter_lines() if line.startswith("event:")]

    outputs = batch.json()["output"]
    assert outputs[0]["sources"] and outputs[1]["sources"] == []
    assert events[0] == "event: metadata" and "event: data" in events and events[-1] == "event: end"


def test_status_says_when_ocr_and_audio_are_unavailable(client, services, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract, no ffmpeg

    capabilities = client.get("/status").json()["capabilities"]

    assert capabilities["ocr"] is False and capabilities["audio"] is False
    services.settings.transcription_provider = "none"
    assert client.get("/status").json()["capabilities"]["transcription"] is None


def test_the_sample_lesson_video_is_cited_by_time_and_its_transcript_downloads(client, indexed):
    listed = {material["file_name"]: material for material in client.get("/materials").json()}
    video = listed["aula-02-agachamento.mp4"]
    assert video["status"] == "indexed"

    # Worded as the lesson speaks (Whisper's transcript of the synthetic voice is rough), so the gate lets it through.
    body = client.post("/query", json={"question": "Quanto tempo de descanso tem o agachamento livre da aula dois?",
                                       "material_ids": [video["id"]]}).json()
    source = body["sources"][0]
    assert source["source"] == "aula-02-agachamento.mp4" and re.fullmatch(r"00:00:\d\d–00:00:\d\d", source["location"])

    transcript = client.get(f"/materials/{video['id']}/transcript")
    assert transcript.status_code == 200 and transcript.headers["content-type"].startswith("text/vtt")
    assert transcript.text.startswith("WEBVTT") and "-->" in transcript.text
    assert "aula-02-agachamento.vtt" in transcript.headers["content-disposition"]
    pdf = listed["fundamentos-do-treino-de-forca.pdf"]
    assert client.get(f"/materials/{pdf['id']}/transcript").status_code == 404
