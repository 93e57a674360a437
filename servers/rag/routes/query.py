"""One question, one answer with its sources (no memory); served from the query cache when it can be."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from graphs.retrieval.configuration import Configuration
from graphs.retrieval.graph import CHECKED_CACHE_KEY, cache_key
from servers.rag.deps import ServicesDep
from servers.rag.schemas import QueryResponse
from servers.rag.security import LocalOrServiceToken, has_service_token

router = APIRouter(tags=["query"], dependencies=LocalOrServiceToken)
# What a caller without the service token may choose: how many passages, nothing about prompts or models.
PUBLIC_FIELDS = ("k",)


class QueryRequest(BaseModel):
    question: str = Field(..., min_length=1, max_length=4000)
    material_ids: list[str] | None = None
    config: Configuration | None = Field(
        None, description="the retrieval agent's configuration: `k` for anyone, the rest with the service token"
    )


@router.post("/query")
async def query(body: QueryRequest, request: Request, services: ServicesDep) -> QueryResponse:
    """`config` sets `k` for anyone; its other fields (prompts, model, retrieval) only with the service token."""
    started = time.perf_counter()
    given = body.config.model_dump(include=body.config.model_fields_set) if body.config else {}
    allowed = given if has_service_token(request) else {name: given[name] for name in PUBLIC_FIELDS if name in given}
    configuration = Configuration.model_validate(allowed)
    key = cache_key(body.question, body.material_ids, configuration)
    state = services.cache.get(key)
    if state is None:
        graph_input = {"question": body.question, "material_ids": body.material_ids}
        config = {"configurable": {**configuration.model_dump(), CHECKED_CACHE_KEY: key}}
        state = await request.app.state.one_off_rag.ainvoke(graph_input, config)
    took_ms = (time.perf_counter() - started) * 1000
    request.app.state.queries.update({"count": 1, "ms": took_ms})
    return QueryResponse(
        answer=state["answer"],
        sources=state["sources"],
        question=body.question,
        standalone_question=state["standalone_question"],
        llm_provider=services.llm_provider,
        cached=state.get("cached", True),
        took_ms=round(took_ms, 1),
    )
