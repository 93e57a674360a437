"""The RAG server's and the workers' metrics: where a question's time goes, what it costs, how jobs and backups
fare. Shared state (index size, queue depth, the last backup) is read when /metrics is scraped (`StateCollector`),
so every replica and process reports the same truth instead of a copy it kept."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from core.llm import ChatModels
from core.metrics import LATENCY_BUCKETS

log = logging.getLogger(__name__)

STAGE_SECONDS = Histogram(
    "dnaforca_rag_stage_duration_seconds",
    "Time of one step of a question: embed (the question's vector), judge (the relevance gate's sentence vectors), "
    "search (the whole retrieval, both included), rewrite (a follow-up made standalone), generate (the answer)",
    ["stage"], buckets=LATENCY_BUCKETS)
TIME_TO_FIRST_TOKEN = Histogram(
    "dnaforca_rag_time_to_first_token_seconds",
    "From the start of a streamed answer to its first token (retrieval included)", buckets=LATENCY_BUCKETS)
TOKENS = Counter("dnaforca_llm_tokens", "Tokens sent to and written by the chat model, as its provider reports them",
                 ["direction", "provider"])
ANSWERS = Counter("dnaforca_rag_answers", "Answers by how they were made: model, extractive (no model), "
                  "not_covered (nothing relevant in the materials)", ["outcome"])
CACHE_LOOKUPS = Counter("dnaforca_query_cache_lookups", "Query cache lookups by result", ["result"])
GENERATIONS = Gauge("dnaforca_llm_generations", "Generations running, and waiting for a slot, in this process",
                    ["state"], multiprocess_mode="livesum")
JOBS = Counter("dnaforca_jobs", "Ingestion jobs finished, by outcome", ["outcome"])
JOB_SECONDS = Histogram("dnaforca_job_duration_seconds", "Time an ingestion job ran",
                        buckets=(0.1, 0.5, 1, 5, 15, 30, 60, 300, 900, 1800, 3600, 7200, 21600))
JOB_FILES = Counter("dnaforca_job_files", "Files an ingestion job handled, by their result", ["outcome"])
BACKUPS = Counter("dnaforca_backups", "Scheduled backups, by outcome", ["outcome"])

# Label values known in advance are exported at zero from the start, so that rates and alerts have a series.
for _stage in ("embed", "judge", "search", "rewrite", "generate"):
    STAGE_SECONDS.labels(_stage)
for _outcome in ("model", "extractive", "not_covered"):
    ANSWERS.labels(_outcome)
for _result in ("hit", "miss"):
    CACHE_LOOKUPS.labels(_result)
for _state in ("running", "queued"):
    GENERATIONS.labels(_state)
for _outcome in ("completed", "failed"):
    JOBS.labels(_outcome)
for _outcome in ("completed", "failed", "skipped"):
    BACKUPS.labels(_outcome)


def count_tokens(message: object, provider: str) -> None:
    """Tokens in and out of one model reply, when the provider reported them."""
    usage = getattr(message, "usage_metadata", None) or {}
    if not usage:
        reported = (getattr(message, "response_metadata", None) or {}).get("token_usage") or {}
        usage = {"input_tokens": reported.get("prompt_tokens"), "output_tokens": reported.get("completion_tokens")}
    for direction in ("input", "output"):
        if usage.get(f"{direction}_tokens"):
            TOKENS.labels(direction, provider).inc(usage[f"{direction}_tokens"])


@asynccontextmanager
async def generation_slot(models: ChatModels) -> AsyncIterator[None]:
    """One of the process's generation slots, counted while waiting for it and while holding it."""
    queued, running = GENERATIONS.labels("queued"), GENERATIONS.labels("running")
    queued.inc()
    waiting = True
    try:
        async with models.slot():
            queued.dec()
            waiting = False
            with running.track_inprogress():
                yield
    finally:
        if waiting:
            queued.dec()


def record_job(outcome: str, seconds: float, results: list[dict]) -> None:
    JOBS.labels(outcome).inc()
    JOB_SECONDS.observe(seconds)
    for result in results:
        JOB_FILES.labels(result.get("status", "unknown")).inc()


class StateCollector(Collector):
    """Gauges read from shared state at scrape time; each reader returns None when it cannot tell (then the
    series is left out and the failure logged, rather than a scrape failing)."""

    def __init__(self, readers: dict[str, tuple[str, Callable[[], float | dict[str, float] | None]]]):
        self.readers = readers  # name -> (help, reader); a dict value is one series per `state` label

    def collect(self):
        for name, (documentation, reader) in self.readers.items():
            try:
                value = reader()
            except Exception as error:  # a store that is down must not break the scrape
                log.warning("Metric %s could not be read: %s", name, error)
                continue
            if value is None:
                continue
            if isinstance(value, dict):
                family = GaugeMetricFamily(name, documentation, labels=["state"])
                for label, number in value.items():
                    family.add_metric([label], number)
            else:
                family = GaugeMetricFamily(name, documentation, value=value)
            yield family
