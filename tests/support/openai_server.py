"""A deterministic OpenAI-compatible chat server for tests and benchmarks (loopback only).

Its answer repeats the first line of the system prompt, so a changed prompt visibly changes the answer (asked to
make a follow-up standalone, it joins the student's previous question and the follow-up, as a model would), and
takes DELAY seconds (the first token after a fifth of it), so concurrency can be measured against a model
whose latency is known. Run: `python -m tests.support.openai_server --port 8399 --delay 1.0`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
import uuid

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from chains.prompts import REWRITE_SYSTEM

MODEL = "fake-echo"
STUDENT_LINE = re.compile(r"^Aluno: (.*)$", re.MULTILINE)
LAST_MESSAGE = re.compile(r"Última mensagem: (.*)$", re.DOTALL)


def reply_text(messages: list[dict]) -> str:
    system = next((str(message.get("content", "")) for message in messages if message.get("role") == "system"), "")
    if system == REWRITE_SYSTEM:
        conversation = str(messages[-1].get("content", ""))
        last = LAST_MESSAGE.search(conversation)
        if last:
            return " ".join([*STUDENT_LINE.findall(conversation)[-1:], last[1].strip()])
    first_line = system.strip().splitlines()[0] if system.strip() else "sem instrução"
    return f"Resposta de teste conforme a instrução: {first_line[:120]} [1]"


def create_app(delay: float) -> FastAPI:
    app = FastAPI()
    app.state.requests = 0

    @app.get("/v1/models")
    async def models() -> dict:
        return {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "tests"}]}

    @app.post("/v1/chat/completions")
    async def completions(request: Request):
        body = await request.json()
        app.state.requests += 1
        words = reply_text(body.get("messages", [])).split(" ")
        completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if not body.get("stream"):
            await asyncio.sleep(delay)
            return JSONResponse({
                "id": completion_id, "object": "chat.completion", "created": created, "model": body.get("model"),
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": " ".join(words)}}],
                "usage": {"prompt_tokens": 10, "completion_tokens": len(words), "total_tokens": 10 + len(words)},
            })

        async def chunks():
            await asyncio.sleep(delay / 5)
            for number, word in enumerate(words):
                if number:
                    await asyncio.sleep(delay * 0.8 / max(len(words) - 1, 1))
                delta = {"role": "assistant", "content": word} if number == 0 else {"content": f" {word}"}
                chunk = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                         "model": body.get("model"), "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
                yield f"data: {json.dumps(chunk)}\n\n"
            done = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                    "model": body.get("model"), "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            yield f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream")

    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds per answer")
    arguments = parser.parse_args()
    uvicorn.run(create_app(arguments.delay), host="127.0.0.1", port=arguments.port, log_level="warning")
