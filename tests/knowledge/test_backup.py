"""Backup and restore through the RAG server (in process): crafted archives are refused with nothing stored
changed, and a real backup still restores."""

from __future__ import annotations

import io
import re
import sqlite3
import tarfile
from pathlib import Path

import pytest

from tests.conftest import indexed_app


@pytest.fixture
def rag(settings, embeddings):
    with indexed_app(settings, embeddings) as client:
        yield client


def unpack(archive: bytes, folder: Path) -> Path:
    """The test's own, trusted, archive from GET /backup, unpacked to be altered."""
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def pack(folder: Path, extra: list[tarfile.TarInfo] = (), skip: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(folder.iterdir()):
            if path.name != skip and not path.name.endswith(("-wal", "-shm")):
                tar.add(path, arcname=path.name)
        for info in extra:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.isfile() else None)
    return buffer.getvalue()


def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def plain(name: str, size: int = 5) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    return info


def edit_catalogue(folder: Path, statement: str) -> None:
    """Run `statement` on the backup's catalogue; `?` is the path of its first material."""
    connection = sqlite3.connect(folder / "catalog.sqlite3")
    with connection:
        first = connection.execute("SELECT path FROM materials ORDER BY path").fetchone()[0]
        connection.execute(statement, (first,) if "?" in statement else ())
    connection.close()


def snapshot(rag, settings) -> dict:
    """What a refused restore must leave as it was: the index, the catalogue, the files."""
    stats = rag.get("/stats").json()

    def files(root: Path) -> dict[str, bytes]:
        return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*"))
                if path.is_file()}

    return {"chunks": stats["chunks"], "by_material": stats["chunks_by_material"], "version": stats["index_version"],
            "materials": rag.get("/materials").json(), "material_files": files(settings.materials_path),
            "chroma_files": files(settings.chroma_path),
            "data_dir": sorted(path.name for path in settings.data_dir.iterdir())}


# Members added to a real backup, and the reason their restore is refused.
EXTRA_MEMBERS = {
    "symlink": ([link("materials/evil.pdf", "/etc/passwd")], "symbolic link"),
    "symlink chain": ([link("materials/up", ".."), link("materials/up/out", "../.."),
                       plain("materials/up/out/escape.txt")], "symbolic link"),
    "hard link": ([link("materials/passwd", "/etc/passwd", tarfile.LNKTYPE)], "hard link"),
    "dotdot member": ([plain("../../escape.txt")], r"'\.\.' component"),
    "absolute member": ([plain("/tmp/dnaforca-escape.txt")], "absolute name"),
}
# Changes to a real backup's catalogue, and the reason.
CATALOGUE_EDITS = {
    "catalogue dotdot": ("UPDATE materials SET path = '../../etc/passwd' WHERE path = ?", "not inside MATERIALS_DIR"),
    "catalogue absolute": ("UPDATE materials SET path = '/etc/passwd' WHERE path = ?", "not inside MATERIALS_DIR"),
    "catalogue trigger": ("CREATE TRIGGER later AFTER UPDATE ON materials BEGIN UPDATE materials "
                          "SET path = '/etc/passwd'; END", "trigger"),
    "catalogue view": ("CREATE VIEW everything AS SELECT * FROM materials", "view"),
    "catalogue without paths": ("ALTER TABLE materials RENAME COLUMN path TO where_from", "lacks path"),
}


def crafted(folder: Path, case: str) -> tuple[bytes, str]:
    """A real backup (unpacked in `folder`) altered by `case`, and the reason its refusal must give."""
    if case in EXTRA_MEMBERS:
        members, reason = EXTRA_MEMBERS[case]
        return pack(folder, members), reason
    if case in CATALOGUE_EDITS:
        statement, reason = CATALOGUE_EDITS[case]
        edit_catalogue(folder, statement)
        return pack(folder), reason
    if case == "catalogue not sqlite":
        (folder / "catalog.sqlite3").write_bytes(b"not a database" * 100)
        return pack(folder), "not a readable SQLite database"
    if case == "no chroma":
        return pack(folder, skip="chroma"), "lacks chroma"
    assert case == "not gzip"
    return b"garbage" * 100, "Not a backup archive"


CASES = [*EXTRA_MEMBERS, *CATALOGUE_EDITS, "catalogue not sqlite", "no chroma", "not gzip"]


def test_crafted_backups_are_refused_and_nothing_stored_changes(rag, settings, tmp_path):
    backup = rag.get("/backup")
    assert backup.status_code == 200
    before = snapshot(rag, settings)
    assert before["chunks"] > 0 and before["materials"]
    for index, case in enumerate(CASES):
        archive, message = crafted(unpack(backup.content, tmp_path / f"case-{index}"), case)
        response = rag.post("/restore", files={"archive": ("backup.tar.gz", archive)})
        # 409 (BackupError) today; 400 once InvalidBackup has a status of its own.
        assert response.status_code == 400, (case, response.status_code, response.text)
        assert re.search(message, response.json()["detail"]), (case, response.json()["detail"])
        assert snapshot(rag, settings) == before, case
        for escaped in (settings.data_dir / "escape.txt", settings.data_dir.parent / "escape.txt",
                        Path("/tmp/dnaforca-escape.txt")):
            assert not escaped.exists(), case


def test_a_backup_restores_what_was_lost(rag, settings):
    backup = rag.get("/backup")
    assert backup.status_code == 200
    before = snapshot(rag, settings)
    lost = before["materials"][0]
    assert rag.delete(f"/materials/{lost['id']}").status_code == 200
    assert rag.get("/stats").json()["chunks"] < before["chunks"]

    restored = rag.post("/restore", files={"archive": ("backup.tar.gz", backup.content)})
    assert restored.status_code == 200, restored.text
    assert restored.json()["chunks"] == before["chunks"]
    after = snapshot(rag, settings)
    # Chroma's own files are rewritten as it runs; what they hold is checked through the counts.
    assert {key: after[key] for key in ("chunks", "by_material", "material_files")} == {
        key: before[key] for key in ("chunks", "by_material", "material_files")}
    assert [m["path"] for m in after["materials"]] == [m["path"] for m in before["materials"]]
    download = rag.get(f"/materials/{lost['id']}/file")
    assert download.status_code == 200
    assert download.content == (settings.materials_path / lost["path"]).read_bytes()
