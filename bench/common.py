"""Helpers the benchmarks share: a throw-away DATA_DIR with real services, and percentiles."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus"
sys.path.insert(0, str(REPO))
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def fresh_services(embeddings, data_dir: Path | None = None, **overrides):
    """Real services on their own DATA_DIR (a new temporary one unless given)."""
    from core.settings import Settings
    from knowledge.services import build_services, use_services

    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="dnaforca-bench-"))
    settings = Settings(data_dir=data_dir, llm_provider="extractive", **overrides)
    services = build_services(settings, embeddings=embeddings)
    use_services(services)
    return services


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]
