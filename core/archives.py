"""Unpacking uploaded tar.gz archives without trusting them: plain files and folders only, every name inside the
target, bounded member count and size, and one error type for whatever is wrong with the archive.

`tarfile`'s extraction filters are not relied on: before 3.11.13, 3.12.11 and 3.13.4 (CVE-2025-4517 and its
family) link chains get past filter="data" and write outside the target, and the filters differ between versions.
So no link, device or FIFO is ever created: each file is written here, opened relative to the target's descriptor,
component by component, refusing symbolic links. POSIX only (it needs `dir_fd` and `O_NOFOLLOW`)."""

from __future__ import annotations

import errno
import gzip
import os
import shutil
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

DIR_MODE, FILE_MODE = 0o755, 0o644
BLOCK = 256 * 2**10
# tarfile reads a pax or GNU long-name header whole into memory, whatever size it claims; real ones hold a few
# names and numbers. Member data is read in BLOCK pieces, so no legitimate read is larger.
MAX_READ = BLOCK
# After the end-of-archive marker (two zero blocks) writers pad to their record size (10 KiB for tarfile and GNU
# tar; larger blocking factors exist), with zeros only.
MAX_TRAILER = 16 * 2**20
END_MARKER = 2 * tarfile.BLOCKSIZE

_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CREATE_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_TYPES = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE)


class UnsafeArchive(ValueError):
    """The archive is damaged, is not a tar.gz, or holds something that may not be unpacked."""


def safe_extract(archive: Path, target: Path, *, max_members: int, max_bytes: int) -> None:
    """Unpack the tar.gz `archive` into `target` (created if missing; it must be empty).

    Raises UnsafeArchive, and leaves `target` empty, for: a member that is not a regular file or a folder (links,
    devices, FIFOs, sparse files), an absolute name or one with a `..` component, a name that would pass through
    a link, a member that would overwrite another, more than `max_members` members, more than `max_bytes`
    unpacked (counted on the bytes written, not only on the sizes the headers claim), and a damaged, truncated
    or non-gzip file."""
    target = Path(target)
    target.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if any(target.iterdir()):
        raise FileExistsError(f"{target} is not empty: an archive is unpacked only into an empty folder")
    root = os.open(target, _OPEN_DIR)
    try:
        _extract(Path(archive), root, _Budget(max_members, max_bytes))
    except BaseException:
        _empty(target)
        raise
    finally:
        os.close(root)


@dataclass
class _Budget:
    """What the archive may still hold, and the names already unpacked."""

    max_members: int
    max_bytes: int
    members: int = 0
    written: int = 0
    files: set[tuple[str, ...]] = field(default_factory=set)
    folders: set[tuple[str, ...]] = field(default_factory=set)

    def admit(self, member: tarfile.TarInfo, parts: tuple[str, ...]) -> None:
        self.members += 1
        if self.members > self.max_members:
            raise UnsafeArchive(f"The archive has more than {self.max_members} members")
        if parts in self.files or (not member.isdir() and parts in self.folders):
            raise UnsafeArchive(f"Member {member.name!r} appears twice in the archive; it would overwrite the first")
        if member.isdir():
            self.folders.add(parts)
            return
        # The header's size is a first, early check; `spend` counts the bytes themselves.
        if self.written + member.size > self.max_bytes:
            raise UnsafeArchive(f"Member {member.name!r} takes the archive over its limit of {self.max_bytes} bytes")
        self.files.add(parts)

    def spend(self, size: int, name: str) -> None:
        self.written += size
        if self.written > self.max_bytes:
            raise UnsafeArchive(f"Member {name!r} takes the archive over its limit of {self.max_bytes} bytes")


def _extract(archive: Path, root: int, budget: _Budget) -> None:
    with _open_tar(archive) as (tar, stream):
        for member in _members(tar):
            parts = _parts(member)
            budget.admit(member, parts)
            if member.isdir():
                os.close(_open_folders(root, parts, member.name))
            else:
                _write_file(tar, member, root, parts, budget)
        _check_end(tar, stream)


class _CappedReads:
    """The decompressed stream as tarfile sees it, refusing any single read larger than MAX_READ."""

    def __init__(self, raw: BinaryIO):
        self._raw = raw

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0 or size > MAX_READ:
            raise UnsafeArchive(f"The archive has a header of {size} bytes, over the limit of {MAX_READ}")
        return self._raw.read(size)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()


@contextmanager
def _reading(where: str = "") -> Iterator[None]:
    """Whatever tarfile, gzip or zlib raise on a bad archive becomes UnsafeArchive."""
    try:
        yield
    except UnsafeArchive:
        raise
    except (tarfile.TarError, EOFError, zlib.error, OSError, ValueError, RecursionError) as error:
        place = f" ({where})" if where else ""
        raise UnsafeArchive(f"Not a readable tar.gz archive{place}: {error or type(error).__name__}") from None


@contextmanager
def _open_tar(archive: Path) -> Iterator[tuple[tarfile.TarFile, _CappedReads]]:
    # Our own GzipFile, so that the gzip trailer (CRC, length) is checked when the rest is read at the end, and
    # the uncompressed mode of tarfile, so that header reads reach _CappedReads with their real size.
    with gzip.open(archive, "rb") as compressed:
        stream = _CappedReads(compressed)
        with _reading():
            tar = tarfile.open(fileobj=stream, mode="r:")  # noqa: SIM115 (opened under _reading, closed below)
        with tar:
            yield tar, stream


def _members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    name = None
    while True:
        with _reading(f"after member {name!r}" if name else ""):
            member = tar.next()
        if member is None:
            return
        name = member.name
        yield member


def _parts(member: tarfile.TarInfo) -> tuple[str, ...]:
    """The member's path inside the target, as components; refuses anything but a plain file or folder."""
    kind = _forbidden_kind(member)
    if kind:
        raise UnsafeArchive(f"Member {member.name!r} is {kind}: only plain files and folders may be unpacked")
    name = member.name
    if "\0" in name:
        raise UnsafeArchive(f"Member {name!r} has a NUL character in its name")
    if name.startswith("/"):
        raise UnsafeArchive(f"Member {name!r} has an absolute name")
    parts = tuple(part for part in name.split("/") if part not in ("", "."))
    if ".." in parts:
        raise UnsafeArchive(f"Member {name!r} has a '..' component: it would be written outside the target")
    if not parts and not member.isdir():
        raise UnsafeArchive(f"Member {name!r} has no file name")
    return parts


def _forbidden_kind(member: tarfile.TarInfo) -> str | None:
    if member.isdir() or (member.type in _FILE_TYPES and member.sparse is None):
        return None
    if member.issym():
        return f"a symbolic link (to {member.linkname!r})"
    if member.islnk():
        return f"a hard link (to {member.linkname!r})"
    if member.ischr() or member.isblk():
        return "a device"
    if member.isfifo():
        return "a FIFO"
    if member.issparse():
        return "a sparse file"
    return f"an entry of type {member.type!r}"


def _open_folders(root: int, parts: tuple[str, ...], name: str) -> int:
    """A descriptor of the folder `parts` under `root`, made if missing; never through a link."""
    folder = os.dup(root)
    try:
        for part in parts:
            with suppress(FileExistsError):
                os.mkdir(part, DIR_MODE, dir_fd=folder)
            try:
                inner = os.open(part, _OPEN_DIR, dir_fd=folder)
            except OSError as error:
                if error.errno in (errno.ENOTDIR, errno.ELOOP):
                    raise UnsafeArchive(f"Member {name!r} goes through {part!r}, which is not a folder") from None
                raise
            os.close(folder)
            folder = inner
    except BaseException:
        os.close(folder)
        raise
    return folder


def _write_file(tar: tarfile.TarFile, member: tarfile.TarInfo, root: int, parts: tuple[str, ...],
                budget: _Budget) -> None:
    folder = _open_folders(root, parts[:-1], member.name)
    try:
        descriptor = os.open(parts[-1], _CREATE_FILE, FILE_MODE, dir_fd=folder)
    except FileExistsError:
        raise UnsafeArchive(f"Member {member.name!r} would overwrite an earlier member") from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise UnsafeArchive(f"Member {member.name!r} would be written through a link") from None
        raise
    finally:
        os.close(folder)
    with os.fdopen(descriptor, "wb") as output:
        with _reading(f"in member {member.name!r}"):
            source = tar.extractfile(member)
        while True:
            with _reading(f"in member {member.name!r}"):
                block = source.read(BLOCK)
            if not block:
                break
            budget.spend(len(block), member.name)
            output.write(block)
        output.flush()
        # A nonsensical time is not worth refusing the archive for: the file keeps "now".
        with suppress(OverflowError, ValueError, OSError):
            os.utime(output.fileno(), (member.mtime, member.mtime))


def _check_end(tar: tarfile.TarFile, stream: _CappedReads) -> None:
    """tarfile stops quietly at a damaged header or at the end of the data; both are refused here: what follows
    the last member must be zeros (the end-of-archive marker and padding), and the gzip stream must be whole."""
    trailer = 0
    with _reading("at the end of the archive"):
        stream.seek(tar.offset)
        while block := stream.read(MAX_READ):
            if block.count(0) != len(block):
                raise UnsafeArchive(f"The archive has a damaged header or stray data at byte {tar.offset + trailer}")
            trailer += len(block)
            if trailer > MAX_TRAILER:
                raise UnsafeArchive(f"The archive has over {MAX_TRAILER} bytes after its end-of-archive marker")
    if trailer < END_MARKER:
        raise UnsafeArchive("The archive is truncated: it has no end-of-archive marker")


def _empty(folder: Path) -> None:
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
