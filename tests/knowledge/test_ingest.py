"""Idempotent ingestion into the real Chroma with the real embedding model."""

import shutil

import pypdf
from langchain_core.documents import Document

from knowledge.ingest import Progress
from knowledge.services import build_services
from knowledge.vectorstore import EmbeddingModelMismatch
from tests.conftest import SAMPLES, CountingEmbeddings


def test_first_run_indexes_every_sample_with_its_metadata(services, materials):
    results = services.ingestor.sync()

    assert {result.status for result in results} == {"indexed"}
    assert services.index.count() == sum(result.chunks for result in results) == 11
    ids, _, metadatas = services.index.all_chunks()
    pdf_chunk = next(m for m in metadatas if m["source"] == "fundamentos-do-treino-de-forca.pdf")
    assert {"material_id", "source", "page", "content_hash", "file_sha256", "location"} <= set(pdf_chunk)
    sheet_chunk = next(m for m in metadatas if m["source"] == "planilha-treino-iniciante.xlsx")
    assert sheet_chunk["sheet"] == "Treino A" and sheet_chunk["location"] == "planilha Treino A, linhas 2–6"


def test_long_text_is_cut_between_sentences_each_keeping_its_full_stop(services):
    sentences = [f"A série {number} do treino usa {number + 5} repetições com carga moderada e pausa de um minuto."
                 for number in range(60)]
    document = Document(page_content=" ".join(sentences), metadata={})

    chunks = services.ingestor.chunk("material", "treino.txt", "sha", [document])

    assert len(chunks) > 3
    for chunk in chunks:
        assert chunk.page_content.startswith("A série") and chunk.page_content.endswith("minuto.")
        assert len(chunk.page_content) <= services.settings.chunk_size


def test_reprocessing_unchanged_files_embeds_nothing(services, materials):
    services.ingestor.sync()
    embedded = services.embeddings.documents_embedded
    version = services.catalog.index_version()

    results = services.ingestor.sync()

    assert services.embeddings.documents_embedded == embedded
    assert {result.status for result in results} == {"unchanged"}
    assert services.catalog.index_version() == version


def test_touched_but_identical_file_is_hashed_not_embedded(services, materials):
    services.ingestor.sync()
    embedded = services.embeddings.documents_embedded
    (materials / "aula-01-tecnica-do-supino.srt").touch()

    results = services.ingestor.sync()

    assert services.embeddings.documents_embedded == embedded
    assert {result.status for result in results} == {"unchanged"}


def test_changed_file_replaces_exactly_its_changed_chunks(services, materials):
    services.ingestor.sync()
    settings = services.settings
    embedded = services.embeddings.documents_embedded
    before = services.index.count()
    # Page 2 of the PDF is replaced; pages 1 and 3 stay as they were.
    writer = pypdf.PdfWriter(clone_from=materials / "fundamentos-do-treino-de-forca.pdf")
    writer.remove_page(1)
    with (materials / "fundamentos-do-treino-de-forca.pdf").open("wb") as handle:
        writer.write(handle)

    [result] = [r for r in services.ingestor.sync() if r.file_name.endswith(".pdf")]

    assert (result.status, result.added, result.removed, result.chunks) == ("indexed", 0, 1, 2)
    assert services.embeddings.documents_embedded == embedded
    assert services.index.count() == before - 1
    assert settings.materials_path.exists()


def test_deleting_a_material_deletes_its_vectors(services, materials):
    services.ingestor.sync()
    material = next(m for m in services.catalog.materials() if m.file_name.endswith(".docx"))

    result = services.ingestor.delete(material.id, remove_file=True)

    assert result.removed == 4
    assert services.index.ids_of_material(material.id) == set()
    assert not (materials / material.path).exists()
    assert services.catalog.get(material.id) is None


def test_file_removed_from_the_folder_is_dropped_on_sync(services, materials):
    services.ingestor.sync()
    (materials / "planilha-treino-iniciante.xlsx").unlink()

    results = services.ingestor.sync()

    assert [r.status for r in results if r.file_name.endswith(".xlsx")] == ["deleted"]
    assert services.index.count() == 9


def test_bad_files_fail_alone_and_the_batch_goes_on(services, materials):
    (materials / "corrompido.pdf").write_bytes(b"%PDF-1.4 nothing else")
    (materials / "vazio.docx").touch()
    writer = pypdf.PdfWriter(clone_from=SAMPLES / "fundamentos-do-treino-de-forca.pdf")
    writer.encrypt("x")
    with (materials / "protegido.pdf").open("wb") as handle:
        writer.write(handle)
    (materials / "aula-02.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    (materials / "enorme.txt").write_bytes(b"treino " * 300_000)
    services.settings.max_file_mb = 1

    results = {result.file_name: result for result in services.ingestor.sync()}

    assert results["corrompido.pdf"].status == "failed" and "not a readable PDF" in results["corrompido.pdf"].error
    assert results["vazio.docx"].error == "The file is empty"
    assert "password-protected" in results["protegido.pdf"].error
    assert results["aula-02.mp4"].status == "failed" and "Not a readable video" in results["aula-02.mp4"].error
    assert "over the 1 MB limit" in results["enorme.txt"].error
    assert sum(r.status == "indexed" for r in results.values()) == 5
    assert services.index.count() == 11


def test_a_broken_new_version_keeps_the_indexed_one(services, materials):
    services.ingestor.sync()
    pdf = materials / "fundamentos-do-treino-de-forca.pdf"
    material_id = next(m.id for m in services.catalog.materials() if m.file_name == pdf.name)
    pdf.write_bytes(b"%PDF-1.4 broken upload")

    [result] = [r for r in services.ingestor.sync() if r.file_name == pdf.name]

    assert result.status == "failed" and "previously indexed version is kept" in result.error
    assert len(services.index.ids_of_material(material_id)) == 3


def test_progress_counts_files_and_chunks(services, materials):
    seen: list[Progress] = []
    services.ingestor.sync(lambda progress: seen.append(Progress(**vars(progress))))

    assert seen[0].files_total == 5 and seen[0].files_done == 0
    assert seen[-1].files_done == 5 and seen[-1].chunks_done == seen[-1].chunks_total == 11
    assert any(0 < p.files_done < 5 for p in seen)


def test_index_built_with_another_embedding_model_refuses_with_the_reindex_command(services, materials, embeddings):
    services.ingestor.sync()

    other = build_services(services.settings, CountingEmbeddings(embeddings, "OpenAIEmbeddings:text-embedding-3-small"))

    try:
        other.index.search([0.0] * 1536, 3)
    except EmbeddingModelMismatch as error:
        assert "dnaforca reindex" in str(error) and "384 dimensions" in str(error)
    else:
        raise AssertionError("a mismatched embedding model was accepted")
    shutil.copy(SAMPLES / "aula-01-tecnica-do-supino.srt", materials / "nova-aula.srt")
    [result] = [r for r in other.ingestor.sync() if r.file_name == "nova-aula.srt"]
    assert result.status == "failed" and "dnaforca reindex" in result.error
    other.catalog.close()
