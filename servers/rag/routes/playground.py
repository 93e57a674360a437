"""The playground pass: a form where staff type the service token once, so a browser can use the /rag and /chat
playgrounds (it cannot send a bearer header from them). See servers/rag/security.py."""

from __future__ import annotations

import html
import re
import secrets
import time
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse

from servers.rag.security import PLAYGROUND_COOKIE, PLAYGROUND_PASS_SECONDS, playground_pass

router = APIRouter(tags=["playground"])
LOGIN_PATH = "/playground-login"
PLAYGROUNDS = ("/rag/playground/", "/chat/playground/", "/chat-playground/playground/")
# Only this server's playgrounds: a pass never redirects anywhere else.
NEXT = re.compile(r"^/(rag|chat|chat-playground)/playground/[A-Za-z0-9._/-]*$")
PAGE_HEADERS = {"Content-Security-Policy": "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
                "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _page(next_path: str, message: str = "", status_code: int = 200) -> HTMLResponse:
    links = "".join(f'<li><a href="{path}">{path}</a></li>' for path in PLAYGROUNDS)
    alert = f'<p role="alert"><strong>{html.escape(message)}</strong></p>' if message else ""
    body = f"""<!doctype html>
<html lang="pt-BR"><head><meta charset="utf-8"><title>Playgrounds — DNA da Força AI</title></head>
<body>
<h1>Playgrounds do servidor RAG</h1>
<p>Digite o token de serviço (<code>RAG_SERVICE_TOKEN</code> ou <code>DATA_DIR/secrets/rag-service-token</code>).
Este navegador recebe um passe válido por {PLAYGROUND_PASS_SECONDS // 60} minutos, só para os playgrounds.</p>
{alert}
<form method="post" action="{LOGIN_PATH}">
<input type="hidden" name="next" value="{html.escape(next_path)}">
<label>Token de serviço <input type="password" name="token" autocomplete="off" required></label>
<button type="submit">Entrar</button>
</form>
<ul>{links}</ul>
</body></html>"""
    return HTMLResponse(body, status_code, headers=PAGE_HEADERS)


def _next(path: str) -> str:
    return path if NEXT.match(path) else PLAYGROUNDS[0]


@router.get(LOGIN_PATH, response_class=HTMLResponse, include_in_schema=False)
async def login_form(next_path: Annotated[str, Query(alias="next", max_length=200)] = PLAYGROUNDS[0]):
    return _page(_next(next_path))


@router.post(LOGIN_PATH, response_class=HTMLResponse, include_in_schema=False)
async def login(request: Request, token: Annotated[str, Form(max_length=500)],
                next_path: Annotated[str, Form(alias="next", max_length=200)] = PLAYGROUNDS[0]):
    """The right token sets the pass and goes on to the playground; a wrong one shows the form again (401)."""
    destination = _next(next_path)
    if not secrets.compare_digest(token.encode(), request.app.state.service_token.encode()):
        return _page(destination, "Token incorreto.", status.HTTP_401_UNAUTHORIZED)
    expires = int(time.time()) + PLAYGROUND_PASS_SECONDS
    response = RedirectResponse(destination, status.HTTP_303_SEE_OTHER)
    response.set_cookie(PLAYGROUND_COOKIE, playground_pass(request.app.state.service_token, expires),
                        max_age=PLAYGROUND_PASS_SECONDS, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    return response
