"""POST /maintenance/restore with crafted archives: 400 (or the RAG server's refusal), nothing written outside the
request's temporary folder, and the database left as it was."""

from __future__ import annotations

import io
import re
import tarfile
import uuid
from pathlib import Path

import pytest

from servers.api.routes import maintenance

pytestmark = pytest.mark.parametrize("database_url", [None])  # the archive's checks do not depend on the database


def entry(name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tuple:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, linkname, len(data) if kind == tarfile.REGTYPE else 0
    return info, data


def archive(*entries: tuple) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return buffer.getvalue()


@pytest.fixture
def backup(api, admin) -> dict[str, bytes]:
    """The members of a real backup."""
    response = api.get("/maintenance/backup", headers=admin.headers)
    assert response.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(response.content)) as tar:
        return {name: tar.extractfile(name).read() for name in ("database.json", "rag.tar.gz")}


def restore(api, admin, content: bytes):
    return api.post("/maintenance/restore", headers=admin.headers, files={"archive": ("backup.tar.gz", content)})


def users(api, admin) -> list[str]:
    return sorted(user["email"] for user in api.get("/users", headers=admin.headers).json())


def outside_names() -> tuple[str, Path]:
    """A name that would land in the system's temporary folder, next to the request's, if `..` were followed."""
    name = f"dnaforca-escape-{uuid.uuid4().hex}.txt"
    return name, Path("/tmp") / name


def test_crafted_outer_archives_are_refused_with_400(api, admin, backup, student, tmp_path):
    escape_name, escaped = outside_names()
    absolute = tmp_path / "absolute.json"
    cases = {
        "symlink": ([entry("database.json", kind=tarfile.SYMTYPE, linkname="/etc/passwd"),
                     entry("rag.tar.gz", backup["rag.tar.gz"])], "symbolic link"),
        "hard link": ([entry("database.json", backup["database.json"]),
                       entry("rag.tar.gz", kind=tarfile.LNKTYPE, linkname="/etc/passwd")], "hard link"),
        "dotdot": ([entry("database.json", backup["database.json"]), entry("rag.tar.gz", backup["rag.tar.gz"]),
                    entry(f"../../{escape_name}", b"pwned")], r"'\.\.' component"),
        "absolute": ([entry(str(absolute), b"pwned"), entry("database.json", backup["database.json"]),
                      entry("rag.tar.gz", backup["rag.tar.gz"])], "absolute name"),
        "symlink chain": ([entry("up", kind=tarfile.SYMTYPE, linkname="../.."),
                           entry(f"up/{escape_name}", b"pwned")], "symbolic link"),
        "fifo": ([entry("database.json", kind=tarfile.FIFOTYPE), entry("rag.tar.gz", backup["rag.tar.gz"])], "FIFO"),
        "twice": ([entry("database.json", backup["database.json"]), entry("rag.tar.gz", backup["rag.tar.gz"]),
                   entry("database.json", b"{}")], "appears twice"),
        "missing": ([entry("database.json", backup["database.json"])], "lacks rag.tar.gz"),
        "truncated": (archive(entry("database.json", backup["database.json"]),
                              entry("rag.tar.gz", backup["rag.tar.gz"]))[:-100], "Not a readable tar.gz"),
    }
    before = users(api, admin)
    assert student.email in before
    for case, (members, reason) in cases.items():
        response = restore(api, admin, members if isinstance(members, bytes) else archive(*members))
        assert response.status_code == 400, (case, response.text)
        detail = response.json()["detail"]
        assert detail.startswith("Not a backup archive") and re.search(reason, detail), (case, detail)
        assert not escaped.exists() and not absolute.exists(), case
    assert users(api, admin) == before


def test_an_oversized_database_json_is_refused_before_it_is_read(api, admin, backup, monkeypatch):
    monkeypatch.setattr(maintenance, "DATABASE_LIMIT", len(backup["database.json"]) - 1)
    response = restore(api, admin, archive(entry("database.json", backup["database.json"]),
                                           entry("rag.tar.gz", backup["rag.tar.gz"])))
    assert response.status_code == 400
    assert "database.json is over" in response.json()["detail"]


def test_a_crafted_rag_archive_is_refused_by_the_rag_server_and_the_database_is_kept(api, admin, backup, student):
    before = users(api, admin)  # the backup predates the student: restoring its database would remove her
    with tarfile.open(fileobj=io.BytesIO(backup["rag.tar.gz"])) as tar:
        members = [(info, tar.extractfile(info).read() if info.isfile() else b"") for info in tar]
    evil = archive(*members, entry("materials/passwd.txt", kind=tarfile.SYMTYPE, linkname="/etc/passwd"))
    response = restore(api, admin, archive(entry("database.json", backup["database.json"]), entry("rag.tar.gz", evil)))
    assert response.status_code == 400, response.text
    assert "symbolic link" in response.json()["detail"]
    assert users(api, admin) == before  # the database was not replaced after the RAG server's refusal


@pytest.mark.parametrize("dump", [b"not json", b'{"format": 1, "tables": {"users": [{"no_such_column": 1}]}}',
                                  b'{"format": 1, "tables": {"secrets": []}}', b'{"format": 99, "tables": {}}'])
def test_a_bad_database_json_is_refused_before_the_rag_server_restores_anything(api, admin, backup, dump):
    materials_before = api.get("/materials", headers=admin.headers).json()
    response = restore(api, admin, archive(entry("database.json", dump), entry("rag.tar.gz", backup["rag.tar.gz"])))
    assert response.status_code == 400 and "database.json" in response.json()["detail"]
    assert api.get("/materials", headers=admin.headers).json() == materials_before


def test_a_real_backup_still_restores(api, admin, backup):
    response = restore(api, admin, archive(entry("database.json", backup["database.json"]),
                                           entry("rag.tar.gz", backup["rag.tar.gz"])))
    assert response.status_code == 200, response.text
    assert response.json()["rag"]["chunks"] > 0
