"""A newcomer's first run, timed: `make run` in a fresh clone with an empty pip cache.

Prints the seconds from the command to (1) the first /query answer with sources, (2) the first answer of the
local chat model, built in the background meanwhile, and (3) for a second `make run` in the same clone, the
first answer again. Needs the ports 8000 and 8001 free; takes ~10 minutes (network and two cores bound).

    .venv/bin/python bench/first_run.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
RAG = "http://127.0.0.1:8001"
QUESTION = "Quantas séries por semana para hipertrofia?"


def answer(provider: str | None = None) -> dict | None:
    """The /query answer when it has sources (and comes from `provider` when given), else None."""
    try:
        body = httpx.post(f"{RAG}/query", json={"question": QUESTION}, timeout=120).json()
    except (httpx.HTTPError, ValueError):
        return None
    if body.get("sources") and (provider is None or body.get("llm_provider") == provider):
        return body
    return None


def wait(condition, seconds: float, every: float = 1.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(every)
    raise TimeoutError(f"not within {seconds:.0f} s")


def make_run(clone: Path, log: Path, environment: dict) -> subprocess.Popen:
    return subprocess.Popen(["make", "run"], cwd=clone, env=environment, stdout=log.open("w"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keep", type=Path, help="clone into this folder and keep it")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="first-run-"))
    clone = root / "repo"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    if not (clone.parent / "shared").exists() and (REPO.parent / "shared").exists():
        (clone.parent / "shared").symlink_to(REPO.parent / "shared")
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("VIRTUAL_ENV", "LLM_",
                                                                                          "DATA_DIR"))}
    path = [entry for entry in os.environ["PATH"].split(os.pathsep) if ".venv" not in entry]
    environment |= {"PIP_CACHE_DIR": str(root / "pip-cache"), "PATH": os.pathsep.join(path)}
    timings = {}
    started = time.monotonic()
    first = make_run(clone, root / "first.log", environment)
    try:
        wait(answer, 1200)
        timings["first answer (extractive), s"] = time.monotonic() - started
        body = wait(lambda: answer("local"), 1800, every=5)
        timings["first local-model answer, s"] = time.monotonic() - started
        print("local model:", body["answer"][:200].replace("\n", " "))
    finally:
        stop(first)
    started = time.monotonic()
    second = make_run(clone, root / "second.log", environment)
    try:
        wait(answer, 300, every=0.25)
        timings["second run: first answer, s"] = time.monotonic() - started
        wait(lambda: answer("local"), 300, every=0.25)
        timings["second run: first local-model answer, s"] = time.monotonic() - started
    finally:
        stop(second)
    for name, seconds in timings.items():
        print(f"{name:45} {seconds:7.1f}")
    print(f"logs: {root}/first.log, {root}/second.log")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
