"""Every route of the API server × every kind of caller → allowed or refused as the access table says.

The routes come from the app's route table: a route missing from ACCESS fails the test, so a new route
cannot ship without deciding who may call it."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from servers.api.app import create_app
from tests.servers.api.conftest import PASSWORD, login, wait_for_job

PUBLIC, USER, OWNER, STAFF, ADMIN = "public", "user", "owner", "staff", "admin"
# Prometheus's: METRICS_TOKEN or the service token, never an account's token (tests/servers/test_observability.py).
METRICS_TOKEN = "metrics token"
ACCESS = {
    ("GET", "/"): PUBLIC,
    ("GET", "/health"): PUBLIC,
    ("GET", "/status"): PUBLIC,
    ("GET", "/metrics"): METRICS_TOKEN,
    ("POST", "/auth/register"): PUBLIC,
    ("POST", "/auth/login"): PUBLIC,
    ("POST", "/auth/refresh"): PUBLIC,
    ("POST", "/auth/password-reset/request"): PUBLIC,
    ("POST", "/auth/password-reset/confirm"): PUBLIC,
    ("POST", "/chat"): PUBLIC,
    ("POST", "/auth/logout"): USER,
    ("GET", "/auth/me"): USER,
    ("PATCH", "/auth/me"): USER,
    ("POST", "/auth/change-password"): USER,
    ("POST", "/chat-auth"): USER,
    ("GET", "/conversations"): USER,
    ("POST", "/conversations"): USER,
    ("GET", "/conversations/{conversation_id}"): OWNER,
    ("PATCH", "/conversations/{conversation_id}"): OWNER,
    ("DELETE", "/conversations/{conversation_id}"): OWNER,
    ("GET", "/materials"): STAFF,
    ("POST", "/materials"): STAFF,
    ("GET", "/materials/jobs/{job_id}"): STAFF,
    ("POST", "/materials/process"): STAFF,
    ("GET", "/materials/{material_id}"): STAFF,
    ("GET", "/materials/{material_id}/file"): STAFF,
    ("GET", "/materials/{material_id}/transcript"): STAFF,
    ("DELETE", "/materials/{material_id}"): STAFF,
    ("POST", "/process-materials"): STAFF,
    ("GET", "/drive/status"): STAFF,
    ("POST", "/drive/sync"): ADMIN,
    ("GET", "/drive/folders"): STAFF,
    ("POST", "/drive/folders"): ADMIN,
    ("DELETE", "/drive/folders/{folder_id}"): ADMIN,
    ("GET", "/drive/folders/{folder_id}/files"): STAFF,
    ("POST", "/initialize-rag"): ADMIN,
    ("GET", "/users"): ADMIN,
    ("POST", "/users"): ADMIN,
    ("GET", "/users/{user_id}"): ADMIN,
    ("PATCH", "/users/{user_id}"): ADMIN,
    ("DELETE", "/users/{user_id}"): ADMIN,
    ("POST", "/maintenance/clear-caches"): ADMIN,
    ("POST", "/maintenance/reindex"): ADMIN,
    ("GET", "/maintenance/backup"): ADMIN,
    ("POST", "/maintenance/restore"): ADMIN,
}
# Who is refused, and how: anonymous callers are told to authenticate, the wrong role is forbidden, and
# someone else's conversation does not exist for them. The allowed callers go last (some calls delete).
REFUSED = {
    PUBLIC: {},
    USER: {"anonymous": 401},
    OWNER: {"anonymous": 401, "other_student": 404, "staff": 404, "admin": 404},
    STAFF: {"anonymous": 401, "student": 403, "other_student": 403},
    ADMIN: {"anonymous": 401, "student": 403, "other_student": 403, "staff": 403},
    METRICS_TOKEN: {"anonymous": 401, "student": 401, "other_student": 401, "staff": 401, "admin": 401},
}
CALLERS = ("anonymous", "other_student", "student", "staff", "admin")


def app_routes() -> list[tuple[str, str]]:
    # FastAPI 0.165 keeps included routers nested; iter_route_contexts walks them.
    return sorted((method, route.path) for route in iter_route_contexts(create_app().routes)
                  if isinstance(route.original_route, APIRoute) for method in route.methods)


def test_every_route_has_an_access_rule():
    assert sorted(set(app_routes()) - set(ACCESS)) == [], "routes without an entry in ACCESS"
    assert sorted(set(ACCESS) - set(app_routes())) == [], "ACCESS names routes the app no longer has"


def _request(api, method, path, caller, fixtures):
    student = fixtures["student"]
    paths = {"{conversation_id}": fixtures["conversation_id"], "{user_id}": student.id,
             "{material_id}": fixtures["material_id"], "{job_id}": fixtures["job_id"]}
    for name, value in paths.items():
        path = path.replace(name, value)
    bodies = {
        "/auth/register": {"json": {"email": f"novo-{caller}@example.com", "password": PASSWORD}},
        "/auth/login": {"data": {"username": student.email, "password": PASSWORD}},
        # A refresh token is spent by its use: each call brings a fresh one.
        "/auth/refresh": {"json": {"refresh_token": login(api, student.email).refresh_token}},
        "/auth/password-reset/request": {"json": {"email": student.email}},
        "/auth/password-reset/confirm": {"json": {"token": "x", "new_password": PASSWORD}},
        "/auth/change-password": {"json": {"current_password": "errada", "new_password": PASSWORD}},
        "/auth/me": {"json": {"full_name": "Novo Nome"}},
        "/chat": {"json": {"message": "Quantas repetições para hipertrofia?"}},
        "/chat-auth": {"json": {"message": "Quantas repetições para hipertrofia?"}},
        "/conversations": {"json": {"title": "Treino"}},
        f"/conversations/{fixtures['conversation_id']}": {"json": {"title": "Renomeada"}},
        "/users": {"json": {"email": f"criado-{caller}@example.com", "password": PASSWORD}},
        f"/users/{student.id}": {"json": {"full_name": "Aluna"}},
        "/materials": {"files": {"files": (f"nota-{caller}.txt", f"Anotação de {caller} sobre descanso.".encode())}},
        "/maintenance/restore": {"files": {"archive": ("backup.tar.gz", b"not an archive")}},
    }
    kwargs = bodies.get(path, {}) if method in ("POST", "PATCH") else {}
    headers = fixtures["accounts"][caller].headers if caller != "anonymous" else {}
    return api.request(method, path, headers=headers, **kwargs)


def _job_id(response) -> str | None:
    if not response.content or "application/json" not in response.headers.get("content-type", ""):
        return None
    body = response.json()
    return body.get("job_id") if isinstance(body, dict) else None


@pytest.mark.parametrize("database_url", [None])  # who may call what does not depend on the database
@pytest.mark.parametrize(("method", "path"), sorted(ACCESS))
def test_route_access(method, path, api, admin, staff, student, other_student):
    conversation = api.post("/conversations", headers=student.headers, json={"title": "Minha"}).json()
    upload = api.post("/materials", headers=admin.headers,
                      files={"files": ("matriz.txt", "Descanso de 2 minutos entre séries pesadas.".encode())})
    assert upload.status_code == 201, upload.text
    fixtures = {
        "student": student, "conversation_id": conversation["id"], "material_id": upload.json()["materials"][0]["id"],
        "job_id": upload.json()["job_id"],
        "accounts": {"student": student, "other_student": other_student, "staff": staff, "admin": admin},
    }
    wait_for_job(api, admin, fixtures["job_id"])
    refused = REFUSED[ACCESS[(method, path)]]
    try:
        for caller in CALLERS:
            response = _request(api, method, path, caller, fixtures)
            if caller in refused:
                assert response.status_code == refused[caller], (caller, response.status_code, response.text)
            else:
                assert response.status_code not in (401, 403) and response.status_code < 500, (
                    caller, response.status_code, response.text)
                if _job_id(response):  # the shared RAG server must be idle again for the next test
                    wait_for_job(api, admin, _job_id(response))
    finally:
        api.delete(f"/materials/{fixtures['material_id']}", headers=admin.headers)
