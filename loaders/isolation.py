"""Parse files in a child process under memory and time limits, so that no file can take the server down.

The RAG server ingests from a worker thread of its own process. A parser that allocates without bound
(calamine aborts the whole process when an allocation fails), crashes or hangs would take the server down
or hold the ingestion lock for ever. So files are parsed by one long-lived child process per server process
(loaders/parse_worker.py: a fresh interpreter started with posix_spawn/vfork+exec, never a fork of the
threaded server) whose address space is capped at PARSE_MEMORY_MB, and which is killed, together with any
ffmpeg or tesseract it started, after PARSE_TIMEOUT_SECONDS. A child that died or was killed is replaced on
the next call, and the caller gets a LoaderError naming the limit. Between files the child waits, warm, so a
file costs one round trip on a socket, not an interpreter start.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

from langchain_core.documents import Document

from core.settings import Settings
from loaders.base import LoaderError
from loaders.registry import load_file

log = logging.getLogger(__name__)

T = TypeVar("T")

# The child finds `loaders.parse_worker` here whatever its working directory and however we were installed.
SOURCE_ROOT = str(Path(__file__).resolve().parent.parent)
# Process groups, socket inheritance and RLIMIT_AS are POSIX: elsewhere files are parsed in process.
SUPPORTED = os.name == "posix"


class ParseLimitExceeded(LoaderError):
    """The child parsing a file went over PARSE_MEMORY_MB or PARSE_TIMEOUT_SECONDS, or died."""


def _death_message(returncode: int | None, memory_mb: int) -> str:
    if returncode is None or returncode >= 0:
        # Exceptions travel back as replies: only a child that could not start exits by itself.
        return f"The parsing process exited with status {returncode} while reading the file (see the server log)"
    try:
        signal_name = signal.Signals(-returncode).name
    except ValueError:
        signal_name = f"signal {-returncode}"
    # A native parser out of memory aborts (calamine) or crashes; the kernel's OOM killer sends SIGKILL.
    return (f"The parser was killed by {signal_name} while reading the file, most likely over the memory limit of "
            f"{memory_mb:,} MB (PARSE_MEMORY_MB)")


class ParserProcess:
    """One child process that runs module-level functions, one call at a time, under the given limits."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._connection: Connection | None = None
        self._memory_mb: int | None = None
        atexit.register(self._stop)

    @property
    def pid(self) -> int | None:
        """The running child's process id (None when there is none)."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def start(self, memory_mb: int) -> None:
        """Start the child now, so it loads its parsers while the caller does other work."""
        if not self._lock.acquire(blocking=False):
            return  # a file is being parsed: the child is there already, and this must not wait for it
        try:
            self._ensure(memory_mb)
        finally:
            self._lock.release()

    def stop(self) -> None:
        with self._lock:
            self._stop()

    def call(self, function: Callable[..., T], *args: Any, timeout: float, memory_mb: int) -> T:
        """function(*args) in the child; its exceptions are raised here, and so is ParseLimitExceeded."""
        with self._lock:
            self._ensure(memory_mb)
            request = (function, args, dict(os.environ), os.getcwd())
            try:
                reply = self._exchange(request, timeout, memory_mb)
            except (EOFError, OSError):  # the child died before answering
                reply = ("died", self._stop())
            except BaseException:
                self._stop()  # interrupted: a reply still to come would answer the next request
                raise
            if reply is None:
                self._stop()
                raise ParseLimitExceeded(
                    f"Reading the file exceeded the time limit of {timeout:g} s and was stopped (PARSE_TIMEOUT_SECONDS)"
                )
            if reply[0] == "memory":
                self._stop()  # the child exits by itself after running out of memory
                raise ParseLimitExceeded(
                    f"Reading the file exceeded the memory limit of {memory_mb:,} MB (PARSE_MEMORY_MB)"
                )
        if reply[0] == "died":
            raise ParseLimitExceeded(_death_message(reply[1], memory_mb))
        if reply[0] == "error":
            error, trace = reply[1], reply[2]
            if not isinstance(error, LoaderError):
                error.add_note(f"Raised in the parsing process:\n{trace}")
            raise error
        return reply[1]

    def _exchange(self, request: tuple, timeout: float, memory_mb: int) -> tuple | None:
        try:
            self._connection.send(request)
        except OSError:  # the child died while idle (killed from outside): once more with a new one
            self._stop()
            self._ensure(memory_mb)
            self._connection.send(request)
        if not self._connection.poll(timeout):
            return None
        return self._connection.recv()

    def _ensure(self, memory_mb: int) -> None:
        if self._process is not None and self._process.poll() is None and self._memory_mb == memory_mb:
            return
        self._stop()
        parent_end, child_end = socket.socketpair()
        python_path = os.pathsep.join(filter(None, [SOURCE_ROOT, os.environ.get("PYTHONPATH")]))
        try:
            with child_end:
                self._process = subprocess.Popen(
                    [sys.executable, "-m", "loaders.parse_worker", str(child_end.fileno()), str(memory_mb * 2**20),
                     str(os.getpid())],
                    pass_fds=[child_end.fileno()],
                    start_new_session=True,  # its own process group: a kill reaches ffmpeg and tesseract too
                    stdin=subprocess.DEVNULL,
                    env={**os.environ, "PYTHONPATH": python_path},
                )
        except BaseException:
            parent_end.close()
            raise
        self._connection = Connection(parent_end.detach())
        self._memory_mb = memory_mb
        log.debug("Started parsing process %d (%d MB)", self._process.pid, memory_mb)

    def _stop(self) -> int | None:
        """Kill the child and what it started; its exit status (None when there was none)."""
        process, connection = self._process, self._connection
        self._process = self._connection = None
        if connection is not None:
            connection.close()
        if process is None:
            return None
        # Also after the child exited: ffmpeg or tesseract may have outlived it in its group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        return process.wait()


_parser = ParserProcess()


def run_isolated(function: Callable[..., T], *args: Any, settings: Settings) -> T:
    """function(*args) in the parsing process, under PARSE_MEMORY_MB and PARSE_TIMEOUT_SECONDS."""
    if not settings.parse_isolation or not SUPPORTED:
        return function(*args)
    return _parser.call(function, *args, timeout=settings.parse_timeout_seconds, memory_mb=settings.parse_memory_mb)


def isolated_load_file(path: Path, settings: Settings) -> list[Document]:
    """load_file, in the parsing process: a file over a limit fails alone, the caller carries on."""
    return run_isolated(load_file, path.absolute(), settings, settings=settings)


def warm_up(settings: Settings) -> None:
    """Start the parsing process ahead of the first file (it takes about a second to import the parsers)."""
    if settings.parse_isolation and SUPPORTED:
        _parser.start(settings.parse_memory_mb)


def parser_pid() -> int | None:
    """The parsing process's id, if one is running (for status and tests)."""
    return _parser.pid
