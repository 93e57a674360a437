"""Idempotent ingestion: unchanged files embed nothing, changed files swap exactly their chunks."""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_text_splitters import RecursiveCharacterTextSplitter

from core.settings import Settings
from knowledge.catalog import Catalog, Material
from knowledge.lexical import LexicalIndex
from knowledge.origins import origin_of
from knowledge.vectorstore import EmbeddingModelMismatch, VectorIndex
from loaders.base import LoaderError
from loaders.isolation import isolated_load_file, warm_up
from loaders.registry import fingerprint, is_material

log = logging.getLogger(__name__)


@dataclass
class FileResult:
    material_id: str
    file_name: str
    status: str  # indexed | unchanged | failed | needs_transcript | deleted
    chunks: int = 0
    added: int = 0
    removed: int = 0
    error: str | None = None


@dataclass
class Progress:
    files_total: int = 0
    files_done: int = 0
    chunks_total: int = 0
    chunks_done: int = 0
    current_file: str | None = None


ProgressCallback = Callable[[Progress], None]


def material_id_for(relative_path: str) -> str:
    """Stable across machines and restarts: the path inside MATERIALS_DIR names the material."""
    return hashlib.sha256(relative_path.encode()).hexdigest()[:16]


def location_label(metadata: dict) -> str:
    """Where a chunk sits in its file, as a student would read it in a citation."""
    if "page" in metadata:
        return f"p. {metadata['page']}"
    if "sheet" in metadata:
        return f"planilha {metadata['sheet']}, linhas {metadata['row_start']}–{metadata['row_end']}"
    if "row_start" in metadata:
        return f"linhas {metadata['row_start']}–{metadata['row_end']}"
    if "start" in metadata:
        return f"{metadata['start']}–{metadata['end']}"
    if metadata.get("section"):
        return f"seção {metadata['section']}"
    return ""


class Ingestor:
    def __init__(self, settings: Settings, catalog: Catalog, index: VectorIndex, lexical: LexicalIndex,
                 embeddings: Embeddings):
        self.settings = settings
        self.catalog = catalog
        self.index = index
        self.lexical = lexical
        self.embeddings = embeddings
        self.splitter = RecursiveCharacterTextSplitter(
            chunk_size=settings.chunk_size,
            chunk_overlap=settings.chunk_overlap,
            separators=["\n\n", "\n", ". ", "; ", ", ", " ", ""],
            keep_separator="end",  # a sentence keeps its full stop; the next chunk starts at its first word
        )
        # Files are parsed in a child process (memory and time limits); starting it now hides its start-up.
        warm_up(settings)

    @property
    def materials_dir(self) -> Path:
        return self.settings.materials_path

    def relative_path(self, path: Path) -> str:
        return path.resolve().relative_to(self.materials_dir.resolve()).as_posix()

    def scan(self) -> list[Path]:
        if not self.materials_dir.is_dir():
            return []
        return sorted(path for path in self.materials_dir.rglob("*") if is_material(path)
                      and not any(part.startswith(".") for part in path.relative_to(self.materials_dir).parts))

    def chunk(self, material_id: str, file_name: str, sha256: str, documents: Iterable[Document],
              url: str | None = None) -> list[Document]:
        chunks: list[Document] = []
        seen: Counter[str] = Counter()
        for document in documents:
            pieces = (
                [document.page_content]
                if len(document.page_content) <= self.settings.chunk_size
                else self.splitter.split_text(document.page_content)
            )
            for piece in pieces:
                content_hash = hashlib.sha256(piece.encode()).hexdigest()
                # Identical text twice in one file (a repeated table row) still makes two distinct ids.
                occurrence = seen[content_hash]
                seen[content_hash] += 1
                chunk_id = hashlib.sha256(f"{material_id}:{content_hash}:{occurrence}".encode()).hexdigest()[:32]
                metadata = {
                    **{key: value for key, value in document.metadata.items() if value is not None},
                    "material_id": material_id,
                    "source": file_name,
                    "file_sha256": sha256,
                    "content_hash": content_hash,
                    "chunk_index": len(chunks),
                }
                if url:
                    metadata["url"] = url  # the Drive file a citation links to
                metadata["location"] = location_label(metadata)
                chunks.append(Document(id=chunk_id, page_content=piece, metadata=metadata))
        return chunks

    def _embed_and_store(self, chunks: list[Document], progress: Progress, report: ProgressCallback) -> None:
        batch_size = self.settings.embed_batch_size
        for start in range(0, len(chunks), batch_size):
            batch = chunks[start : start + batch_size]
            vectors = self.embeddings.embed_documents([chunk.page_content for chunk in batch])
            ids, texts, metadatas = [c.id for c in batch], [c.page_content for c in batch], [c.metadata for c in batch]
            self.index.add(ids, texts, vectors, metadatas)
            self.lexical.add(ids, texts, metadatas)
            progress.chunks_done += len(batch)
            report(progress)

    def ingest_file(self, path: Path, progress: Progress | None = None,
                    report: ProgressCallback = lambda _: None) -> FileResult:
        progress = progress or Progress(files_total=1)
        relative = self.relative_path(path)
        material_id = material_id_for(relative)
        known = self.catalog.get(material_id)
        stat = path.stat()
        if known and known.status != "indexing" and (known.size, known.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
            # Settled and untouched since: neither read nor hashed again (a failure stays as it was).
            status = "unchanged" if known.status == "indexed" else known.status
            return FileResult(material_id, path.name, status, chunks=known.chunks, error=known.error)
        sha256 = fingerprint(path)
        if known and known.status == "indexed" and known.sha256 == sha256:
            known.mtime_ns, known.updated_at = stat.st_mtime_ns, time.time()
            self.catalog.upsert(known)
            return FileResult(material_id, path.name, "unchanged", chunks=known.chunks)

        material = Material(material_id, relative, path.name, stat.st_size, stat.st_mtime_ns, sha256,
                            "indexing", None, known.chunks if known else 0, time.time())
        try:
            self.index.check_embedding_model()
            # A parser over a budget, crashing or hanging fails this file alone (LoaderError), in a child process.
            origin = origin_of(path)
            chunks = self.chunk(material_id, path.name, sha256, isolated_load_file(path, self.settings),
                                url=origin.url if origin else None)
            existing = self.index.ids_of_material(material_id)
            fresh = [chunk for chunk in chunks if chunk.id not in existing]
            stale = existing - {chunk.id for chunk in chunks}
            progress.chunks_total += len(fresh)
            report(progress)
            # New chunks go in before old ones go out, so the material is never missing from the index.
            self._embed_and_store(fresh, progress, report)
            self.index.delete(sorted(stale))
            self.lexical.delete(sorted(stale))
        except (LoaderError, EmbeddingModelMismatch) as error:
            status = getattr(error, "status", "failed")
            return self._record_failure(material, known, status, str(error))
        except Exception as error:  # one broken file must never sink a batch
            log.exception("Ingesting %s failed", path)
            return self._record_failure(material, known, "failed", f"Internal error: {type(error).__name__}: {error}")
        material.status, material.chunks = "indexed", len(chunks)
        self.catalog.upsert(material)
        if fresh or stale:
            self.index.version_seen = self.catalog.bump_index_version()
        return FileResult(material_id, path.name, "indexed", len(chunks), len(fresh), len(stale))

    def _record_failure(self, material: Material, known: Material | None, status: str, error: str) -> FileResult:
        # A previously indexed version stays searchable; the catalogue says why the new one was refused.
        material.status, material.error = status, error
        if known and known.status == "indexed":
            material.error = f"{error} (the previously indexed version is kept)"
        self.catalog.upsert(material)
        return FileResult(material.id, material.file_name, status, material.chunks, error=material.error)

    def ingest(self, paths: list[Path], report: ProgressCallback = lambda _: None) -> list[FileResult]:
        progress = Progress(files_total=len(paths))
        report(progress)
        results = []
        for path in paths:
            progress.current_file = path.name
            report(progress)
            try:
                results.append(self.ingest_file(path, progress, report))
            except OSError as error:  # vanished or unreadable between listing and reading
                material_id = material_id_for(self.relative_path(path))
                results.append(FileResult(material_id, path.name, "failed", error=str(error)))
            progress.files_done += 1
            report(progress)
        progress.current_file = None
        report(progress)
        return results

    def sync(self, report: ProgressCallback = lambda _: None) -> list[FileResult]:
        """Index every new or changed material in MATERIALS_DIR and forget the ones deleted from it."""
        paths = self.scan()
        present = {material_id_for(self.relative_path(path)) for path in paths}
        removed = [self.delete(material.id) for material in self.catalog.materials() if material.id not in present]
        return self.ingest(paths, report) + [result for result in removed if result]

    def delete(self, material_id: str, remove_file: bool = False) -> FileResult | None:
        material = self.catalog.get(material_id)
        if material is None:
            return None
        removed = self.index.delete_material(material_id)
        self.lexical.delete_material(material_id)
        if remove_file:
            (self.materials_dir / material.path).unlink(missing_ok=True)
        self.catalog.delete(material_id)
        self.index.version_seen = self.catalog.bump_index_version()
        return FileResult(material_id, material.file_name, "deleted", removed=removed)

    def reset(self) -> None:
        self.index.reset()
        self.lexical.reset()
        self.catalog.clear()
        self.index.version_seen = self.catalog.bump_index_version()


def result_dicts(results: Iterable[FileResult]) -> list[dict]:
    return [asdict(result) for result in results]
