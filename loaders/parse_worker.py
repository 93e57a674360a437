"""The parsing child process (`python -m loaders.parse_worker FD MEMORY_BYTES PARENT_PID`), see loaders/isolation.py.

It caps its own address space, then answers requests from its parent over the socket FD: each request is a
function and its arguments, each reply the function's result or the exception it raised.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection

from core.logs import configure_logging
from core.settings import get_settings

# How often the child checks that the process that started it is still there.
PARENT_CHECK_SECONDS = 1.0


def limit_memory(limit_bytes: int) -> None:
    """RLIMIT_AS: an allocation past it fails (MemoryError in Python, an abort in native code)."""
    try:
        import resource
    except ImportError:  # not a POSIX system: only the time limit applies
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit_bytes = min(limit_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, hard))


def exit_with_parent(parent_pid: int) -> None:
    """Die with the server, together with any ffmpeg or tesseract started for the file at hand."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_SECONDS)
        if os.getpgid(0) == os.getpid():  # leader of a group of its own (never the server's group)
            os.killpg(os.getpid(), signal.SIGKILL)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def portable(error: BaseException) -> Exception:
    """The exception itself when it survives pickling, else a RuntimeError that says what it was."""
    if isinstance(error, Exception):
        try:
            pickle.loads(pickle.dumps(error))
            return error
        except Exception:  # noqa: BLE001 - any failure to pickle means: describe it instead
            pass
    return RuntimeError(f"{type(error).__name__}: {error}")


def follow(environment: dict[str, str], cwd: str) -> None:
    """Run as if in the parent: its environment (PATH finds tesseract, ffmpeg) and working directory."""
    if dict(os.environ) != environment:
        os.environ.clear()
        os.environ.update(environment)
    if os.getcwd() != cwd:
        with contextlib.suppress(OSError):  # gone since: relative paths fail as they would in the parent
            os.chdir(cwd)


def serve(connection: Connection) -> None:
    while True:
        try:
            function, args, environment, cwd = connection.recv()
        except (EOFError, OSError):
            return  # the parent closed the socket: nothing more to do
        follow(environment, cwd)
        try:
            reply: tuple = ("ok", function(*args))
        except MemoryError:
            reply = ("memory",)
        except BaseException as error:  # noqa: BLE001 - everything goes back to the parent
            reply = ("error", portable(error), traceback.format_exc())
        try:
            connection.send(reply)
        except MemoryError:
            reply = ("memory",)
            connection.send(reply)
        if reply[0] == "memory":
            return  # a process that ran out of memory may be left half-changed: the parent starts a fresh one


def main(argv: list[str]) -> None:
    descriptor, limit_bytes, parent_pid = (int(value) for value in argv[1:4])
    limit_memory(limit_bytes)
    exit_with_parent(parent_pid)
    configure_logging(get_settings())  # the server's LOG_FORMAT and LOG_LEVEL (the environment is inherited)
    # Imported before the first request, so the first file does not pay for it.
    import loaders.registry  # noqa: F401

    serve(Connection(descriptor))


if __name__ == "__main__":
    main(sys.argv)
