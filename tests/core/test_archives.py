"""core.archives: crafted tar.gz archives are refused with UnsafeArchive and write nothing outside the target."""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from core.archives import UnsafeArchive, safe_extract

LIMITS = {"max_members": 100, "max_bytes": 10 * 2**20}


def member(name: str, data: bytes | None = None, **fields) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    for key, value in fields.items():
        setattr(info, key, value)
    if data is not None:
        info.size = len(data)
    return info, data


def folder(name: str) -> tuple[tarfile.TarInfo, None]:
    return member(name, type=tarfile.DIRTYPE, mode=0o755)


def tar_bytes(members, tar_format: int = tarfile.PAX_FORMAT) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tar_format) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def write_archive(path: Path, members, **options) -> Path:
    path.write_bytes(gzip.compress(tar_bytes(members, **options)))
    return path


@pytest.fixture
def outside(tmp_path) -> Path:
    """A folder next to the target; nothing may ever be written into it."""
    path = tmp_path / "outside"
    path.mkdir()
    return path


def refused(archive: Path, target: Path, outside: Path, match: str, **limits) -> UnsafeArchive:
    with pytest.raises(UnsafeArchive, match=match) as caught:
        safe_extract(archive, target, **{**LIMITS, **limits})
    assert list(outside.iterdir()) == []
    assert list(target.iterdir()) == []  # what was unpacked before the refusal is removed
    return caught.value


def all_paths(root: Path) -> dict[str, bytes | None]:
    return {path.relative_to(root).as_posix(): path.read_bytes() if path.is_file() else None
            for path in sorted(root.rglob("*"))}


def test_a_legitimate_archive_extracts_exactly_and_never_calls_tarfiles_extraction(tmp_path, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("tarfile's own extraction was called")

    monkeypatch.setattr(tarfile.TarFile, "extract", forbidden)
    monkeypatch.setattr(tarfile.TarFile, "extractall", forbidden)
    archive = write_archive(tmp_path / "good.tar.gz", [
        member("catalog.sqlite3", b"catalogue", mtime=1_700_000_000),
        folder("materials"),
        member("materials/treino.pdf", b"%PDF" + os.urandom(300_000)),
        member("materials/vazio.txt", b""),
        member("./chroma/0001/data_level0.bin", b"\x00\x01" * 1000),  # no folder entry: made on the way
        member("materials/sub/ção é.md", "# ção".encode()),
        folder("chroma"),  # a folder entry after its contents is harmless
    ])
    target = tmp_path / "target"
    safe_extract(archive, target, **LIMITS)

    with tarfile.open(archive) as tar:
        expected = {info.name.removeprefix("./"): tar.extractfile(info).read() for info in tar if info.isfile()}
    files = {name: data for name, data in all_paths(target).items() if data is not None}
    assert files == expected
    assert sorted(name for name, data in all_paths(target).items() if data is None) == [
        "chroma", "chroma/0001", "materials", "materials/sub"]
    assert (target / "catalog.sqlite3").stat().st_mtime == 1_700_000_000
    modes = {stat.S_IMODE(path.stat().st_mode) & ~0o022 for path in target.rglob("*") if path.is_file()}
    assert modes <= {0o644, 0o600}
    assert not any(path.is_symlink() for path in target.rglob("*"))


@pytest.mark.parametrize(("members", "match"), [
    ([member("link", type=tarfile.SYMTYPE, linkname="/etc")], "symbolic link"),
    ([member("a.txt", b"a"), member("b.txt", type=tarfile.LNKTYPE, linkname="a.txt")], "hard link"),
    ([member("passwd", type=tarfile.LNKTYPE, linkname="/etc/passwd")], "hard link"),
    ([member("null", type=tarfile.CHRTYPE, devmajor=1, devminor=3)], "device"),
    ([member("disk", type=tarfile.BLKTYPE, devmajor=8, devminor=0)], "device"),
    ([member("pipe", type=tarfile.FIFOTYPE)], "FIFO"),
    ([member("../escape.txt", b"pwned")], r"'\.\.' component"),
    ([member("ok/../../escape.txt", b"pwned")], r"'\.\.' component"),
    ([member("..", type=tarfile.DIRTYPE)], r"'\.\.' component"),
    ([member("weird", b"x", type=b"Z")], "entry of type"),
])
def test_links_devices_fifos_and_dotdot_names_are_refused(tmp_path, outside, members, match):
    archive = write_archive(tmp_path / "bad.tar.gz", members)
    refused(archive, tmp_path / "target", outside, match)
    assert not (tmp_path / "escape.txt").exists()


def test_an_absolute_name_is_refused(tmp_path, outside):
    sentinel = outside / "absolute.txt"
    archive = write_archive(tmp_path / "bad.tar.gz", [member(str(sentinel), b"pwned")])
    refused(archive, tmp_path / "target", outside, "absolute name")
    assert not sentinel.exists()


def test_a_symlink_chain_cannot_write_outside(tmp_path, outside):
    # The CVE-2025-4517 family: links (here a folder link, then a chain of relative ones) and a file written
    # through them.
    sentinel = outside / "pwned.txt"
    for chain in (
        [member("escape", type=tarfile.SYMTYPE, linkname=str(outside)), member("escape/pwned.txt", b"pwned")],
        [folder("a"), member("a/b", type=tarfile.SYMTYPE, linkname=".."),
         member("a/b/c", type=tarfile.SYMTYPE, linkname="../outside"), member("a/b/c/pwned.txt", b"pwned")],
    ):
        archive = write_archive(tmp_path / "chain.tar.gz", chain)
        refused(archive, tmp_path / "target", outside, "symbolic link")
        assert not sentinel.exists()


@pytest.mark.parametrize(("members", "match"), [
    ([member("a.txt", b"first"), member("a.txt", b"second")], "appears twice"),
    ([member("a.txt", b"first"), member("./a.txt", b"second")], "appears twice"),
    ([folder("a"), member("a", b"file over a folder")], "appears twice"),
    ([member("a", b"file"), member("a/b.txt", b"under a file")], "not a folder"),
    ([member("a", b"file"), folder("a")], "appears twice"),
    ([member("", b"nameless")], "no file name"),
])
def test_members_that_would_overwrite_or_collide_are_refused(tmp_path, outside, members, match):
    archive = write_archive(tmp_path / "bad.tar.gz", members, tar_format=tarfile.GNU_FORMAT)
    refused(archive, tmp_path / "target", outside, match)


def test_too_many_members_are_refused(tmp_path, outside):
    archive = write_archive(tmp_path / "many.tar.gz", [member(f"{index}.txt", b"x") for index in range(4)])
    refused(archive, tmp_path / "target", outside, "more than 3 members", max_members=3)
    safe_extract(archive, tmp_path / "enough", max_members=4, max_bytes=4)  # exactly at the limits


def test_an_archive_over_the_byte_limit_is_refused(tmp_path, outside):
    archive = write_archive(tmp_path / "big.tar.gz", [member("a.bin", b"a" * 600), member("b.bin", b"b" * 600)])
    refused(archive, tmp_path / "target", outside, "'b.bin' takes the archive over its limit of 1000 bytes",
            max_bytes=1000)


def test_a_compression_bomb_is_stopped_at_the_byte_limit(tmp_path, outside):
    archive = write_archive(tmp_path / "bomb.tar.gz", [member("zeros.bin", bytes(64 * 2**20))])
    assert archive.stat().st_size < 2**20
    refused(archive, tmp_path / "target", outside, "over its limit", max_bytes=2**20)


def test_the_byte_limit_is_counted_on_the_bytes_written(tmp_path, outside, monkeypatch):
    # Headers may understate what tarfile hands out (sparse maps, future formats): the bytes are counted too.
    from core import archives

    monkeypatch.setattr(archives._Budget, "admit", lambda self, member, parts: self.files.add(parts))
    archive = write_archive(tmp_path / "big.tar.gz", [member("a.bin", b"a" * 5000)])
    refused(archive, tmp_path / "target", outside, "'a.bin' takes the archive over", max_bytes=1000)


def test_a_huge_extended_header_is_refused_before_it_is_read(tmp_path, outside):
    archive = write_archive(tmp_path / "pax.tar.gz", [member("a.txt", b"x", pax_headers={"comment": "x" * 2**20})])
    refused(archive, tmp_path / "target", outside, "header of")


def test_a_sparse_member_is_refused(tmp_path, outside):
    info, _ = member("sparse.bin", type=tarfile.GNUTYPE_SPARSE)
    archive = write_archive(tmp_path / "sparse.tar.gz", [(info, b"")], tar_format=tarfile.GNU_FORMAT)
    refused(archive, tmp_path / "target", outside, "is a sparse file")


def good_archive_bytes() -> bytes:
    return gzip.compress(tar_bytes([member(f"{index}.txt", os.urandom(2000)) for index in range(20)]))


@pytest.mark.parametrize("damage", [
    pytest.param(lambda data: data[: len(data) // 2], id="truncated gzip"),
    pytest.param(lambda data: data[:-4], id="gzip without its length"),
    pytest.param(lambda data: data[:200] + bytes([data[200] ^ 0xFF]) + data[201:], id="corrupt deflate data"),
    pytest.param(lambda data: data[:-8] + bytes([data[-8] ^ 0xFF]) + data[-7:], id="wrong CRC"),
    pytest.param(lambda data: gzip.decompress(data), id="tar without gzip"),
    pytest.param(lambda data: b"this is not an archive at all" * 100, id="not an archive"),
    pytest.param(lambda data: gzip.compress(b"plain text, gzip-compressed, is not a tar" * 50), id="gzip of text"),
    # Each member is a header and four blocks of data.
    pytest.param(lambda data: gzip.compress(gzip.decompress(data)[: 512 * 5]), id="tar cut at a member boundary"),
    pytest.param(lambda data: gzip.compress(gzip.decompress(data)[: 512 * 6]), id="tar cut in a member"),
    pytest.param(lambda data: gzip.compress(gzip.decompress(data)[:512] + b"\x01" * 512 + gzip.decompress(data)),
                 id="damaged header"),
    pytest.param(lambda data: b"", id="empty file"),
])
def test_a_damaged_archive_gives_the_domain_error(tmp_path, outside, damage):
    archive = tmp_path / "damaged.tar.gz"
    archive.write_bytes(damage(good_archive_bytes()))
    refused(archive, tmp_path / "target", outside, "archive")


def test_the_undamaged_archive_of_the_damage_tests_extracts(tmp_path):
    archive = tmp_path / "good.tar.gz"
    archive.write_bytes(good_archive_bytes())
    safe_extract(archive, tmp_path / "target", **LIMITS)
    assert len(list((tmp_path / "target").iterdir())) == 20


def test_the_target_must_be_empty(tmp_path):
    archive = write_archive(tmp_path / "good.tar.gz", [member("a.txt", b"a")])
    target = tmp_path / "target"
    target.mkdir()
    (target / "kept.txt").write_text("kept")
    with pytest.raises(FileExistsError):
        safe_extract(archive, target, **LIMITS)
    assert (target / "kept.txt").read_text() == "kept"
