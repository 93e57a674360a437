"""Ingestion throughput against a naive LangChain pipeline, and re-processing an unchanged corpus.

Both pipelines use the same embedding model object. The naive one is the textbook recipe:
PyPDFLoader + RecursiveCharacterTextSplitter(1000, 200) + Chroma.from_documents.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from common import CORPUS, REPO, fresh_services

PDFS = [CORPUS / "bncc-educacao-fisica.pdf", REPO / "examples" / "materials" / "fundamentos-do-treino-de-forca.pdf"]
SAMPLES = sorted((REPO / "examples" / "materials").iterdir())


def pages(paths: list[Path]) -> int:
    import pypdfium2

    return sum(len(pypdfium2.PdfDocument(path)) for path in paths if path.suffix == ".pdf")


def naive(paths: list[Path], embeddings) -> tuple[float, int]:
    from langchain_chroma import Chroma
    from langchain_community.document_loaders import PyPDFLoader
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    started = time.perf_counter()
    documents = [document for path in paths for document in PyPDFLoader(str(path)).load()]
    chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(documents)
    Chroma.from_documents(chunks, embeddings, persist_directory=tempfile.mkdtemp(prefix="naive-chroma-"))
    return time.perf_counter() - started, len(chunks)


def ours(paths: list[Path], embeddings) -> tuple[float, int, float]:
    services = fresh_services(embeddings)
    for path in paths:
        shutil.copy2(path, services.settings.materials_path / path.name)
    started = time.perf_counter()
    results = services.ingestor.sync()
    first = time.perf_counter() - started
    failed = [result for result in results if result.status != "indexed"]
    assert not failed, failed
    started = time.perf_counter()
    again = services.ingestor.sync()
    second = time.perf_counter() - started
    assert {result.status for result in again} == {"unchanged"}
    return first, sum(result.chunks for result in results), second


def main() -> None:
    from core.embeddings import LocalE5Embeddings

    embeddings = LocalE5Embeddings()
    embeddings.embed_query("aquecimento")  # load the model outside the timings
    page_count = pages(PDFS)

    naive_seconds, naive_chunks = naive(PDFS, embeddings)
    our_seconds, our_chunks, unchanged_seconds = ours(PDFS, embeddings)
    print(f"PDF corpus: {', '.join(path.name for path in PDFS)} ({page_count} pages)")
    print(f"  naive LangChain : {naive_seconds:7.2f} s  {page_count / naive_seconds:6.2f} pages/s  "
          f"{naive_chunks / naive_seconds:6.2f} chunks/s  ({naive_chunks} chunks)")
    print(f"  dnaforca        : {our_seconds:7.2f} s  {page_count / our_seconds:6.2f} pages/s  "
          f"{our_chunks / our_seconds:6.2f} chunks/s  ({our_chunks} chunks)")
    print(f"  speed-up (pages/s, ours / naive): {naive_seconds / our_seconds:.2f}x  (target >= 1.5x)")
    print(f"  re-processing unchanged: {unchanged_seconds * 1000:.1f} ms, "
          f"{our_seconds / unchanged_seconds:.0f}x faster than the first run (target >= 20x)")

    sample_seconds, sample_chunks, sample_unchanged = ours(SAMPLES, embeddings)
    print(f"Sample materials ({len(SAMPLES)} files: pdf, xlsx, docx, srt): {sample_seconds:.2f} s, "
          f"{sample_chunks / sample_seconds:.2f} chunks/s ({sample_chunks} chunks); unchanged re-run "
          f"{sample_unchanged * 1000:.1f} ms ({sample_seconds / sample_unchanged:.0f}x faster)")


if __name__ == "__main__":
    main()
