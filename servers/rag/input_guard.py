"""Bounded, well-formed input for the graphs' LangServe routes, checked before LangServe reads it.

LangServe answers some malformed bodies with 500 (non-UTF-8 JSON, an empty message list on /chat) and keeps no
bounds from a schema (it copies models without their constraints). Each route therefore depends on a check of
its own input model: a JSON object, `input` (or `inputs` of a batch) valid against that model, or a 4xx.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import HTTPException, Request, status
from langserve.api_handler import _config_from_hash  # how LangServe reads a configuration from the URL
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from graphs.configuration import BaseConfiguration, checked_configuration

MAX_QUESTION_CHARS = 4000
MAX_MATERIAL_IDS = 100
MAX_MESSAGES = 50
MAX_BATCH = 16
# The endpoints that run the graph; schemas, playground files and the like have no body to check.
RUN_ENDPOINTS = ("/invoke", "/batch", "/stream", "/stream_log", "/stream_events")

class QuestionInput(BaseModel):
    """/rag and /ask: one question, optionally only from some materials."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(..., min_length=1, max_length=MAX_QUESTION_CHARS)
    material_ids: list[str] | None = Field(None, max_length=MAX_MATERIAL_IDS)


class InputMessage(BaseModel):
    """A chat message as LangServe clients send it; the graphs use no tools, so tool calls must be empty."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["human", "ai", "system"]
    content: str = Field(..., max_length=MAX_QUESTION_CHARS)
    id: str | None = Field(None, max_length=200)
    name: str | None = Field(None, max_length=200)
    additional_kwargs: dict[str, Any] = Field(default_factory=dict)
    response_metadata: dict[str, Any] = Field(default_factory=dict)
    example: bool = False
    tool_calls: list[Any] = Field(default_factory=list, max_length=0)
    invalid_tool_calls: list[Any] = Field(default_factory=list, max_length=0)
    usage_metadata: None = None


class ConversationInput(BaseModel):
    """/chat: the new message(s) of a conversation the server remembers."""

    model_config = ConfigDict(extra="forbid")

    messages: list[InputMessage] = Field(..., min_length=1, max_length=MAX_MESSAGES)
    material_ids: list[str] | None = Field(None, max_length=MAX_MATERIAL_IDS)


class PlaygroundConversation(BaseModel):
    """/chat-playground: the whole conversation, which the playground resends every turn."""

    model_config = ConfigDict(extra="forbid")

    messages: list[InputMessage] = Field(..., min_length=1, max_length=MAX_MESSAGES)


class RunConfig(BaseModel):
    """LangServe takes only `configurable` from a client's config (the server decides the rest)."""

    configurable: dict[str, Any] | None = None


class RunRequest(BaseModel):
    config: RunConfig | None = None
    kwargs: dict[str, Any] | None = None


class StreamRequest(RunRequest):
    include_names: list[str] | None = None
    include_types: list[str] | None = None
    include_tags: list[str] | None = None
    exclude_names: list[str] | None = None
    exclude_types: list[str] | None = None
    exclude_tags: list[str] | None = None


class BatchRequest(BaseModel):
    config: RunConfig | list[RunConfig] | None = None
    kwargs: dict[str, Any] | None = None


def _problems(error: ValidationError, *location: str | int) -> list[dict]:
    return [{"loc": [*location, *problem["loc"]], "msg": problem["msg"], "type": problem["type"]}
            for problem in error.errors(include_url=False, include_context=False, include_input=False)]


def _unprocessable(problems: list[dict]) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, problems)


def _configs(body: dict, request: Request) -> list[tuple[list, dict]]:
    """Every configuration the run would read: the body's (one, or one per batch input) and the URL's hash."""
    found = []
    config = body.get("config")
    for index, one in enumerate(config if isinstance(config, list) else [config]):
        if one and one.get("configurable"):
            found.append((["body", "config", *([index] if isinstance(config, list) else []), "configurable"],
                          one["configurable"]))
    config_hash = request.path_params.get("config_hash") or request.query_params.get("config_hash")
    if config_hash:
        try:
            from_hash = RunConfig.model_validate(_config_from_hash(config_hash))
        except (HTTPException, ValidationError):
            raise _unprocessable([{"loc": ["path", "config_hash"], "msg": "not a configuration LangServe encoded",
                                   "type": "config_hash"}]) from None
        if from_hash.configurable:
            found.append((["path", "config_hash", "configurable"], from_hash.configurable))
    return found


def checked_run(model: type[BaseModel], configuration: type[BaseConfiguration]):
    """A dependency that refuses a run whose body is not JSON, whose shape LangServe would choke on, whose
    input does not fit `model`, or whose configuration does not fit `configuration`."""
    batch_inputs = TypeAdapter(list[model])

    async def check(request: Request) -> None:
        path = request.url.path
        if request.method != "POST" or not path.endswith(RUN_ENDPOINTS):
            return
        try:
            body = json.loads(await request.body())
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, f"The body is not JSON in UTF-8: {error}") from None
        if not isinstance(body, dict):
            raise _unprocessable([{"loc": ["body"], "msg": "must be a JSON object", "type": "object_type"}])
        is_batch = path.endswith("/batch")
        shape = BatchRequest if is_batch else StreamRequest if "/stream_" in path else RunRequest
        field = "inputs" if is_batch else "input"
        try:
            shape.model_validate(body)
        except ValidationError as error:
            raise _unprocessable(_problems(error, "body")) from None
        if is_batch and (not isinstance(body.get("inputs"), list) or not 1 <= len(body["inputs"]) <= MAX_BATCH):
            raise _unprocessable([{"loc": ["body", "inputs"], "msg": f"must be a list of 1 to {MAX_BATCH} inputs",
                                   "type": "batch_size"}])
        if is_batch and isinstance(body.get("config"), list) and len(body["config"]) != len(body["inputs"]):
            raise _unprocessable([{"loc": ["body", "config"], "msg": "one config for all inputs, or one per input",
                                   "type": "batch_configs"}])
        try:
            batch_inputs.validate_python(body["inputs"]) if is_batch else model.model_validate(body.get(field))
        except ValidationError as error:
            raise _unprocessable(_problems(error, "body", field)) from None
        for location, configurable in _configs(body, request):
            try:
                checked_configuration(configuration, configurable)
            except ValidationError as error:
                raise _unprocessable(_problems(error, *location)) from None

    return check
