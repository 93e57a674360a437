"""`/` and `/status`: name, version and status for everyone; internals (environment, where the RAG server is,
what failed and why) for admins only."""

from __future__ import annotations

from tests.servers.api.conftest import Account

PUBLIC_KEYS = {"name", "version", "status"}


def test_info_and_status_hide_internals_from_all_but_admins(api, student, staff, admin):
    for caller in ({}, student.headers, staff.headers, {"Authorization": "Bearer not-a-token"}):
        info, status = api.get("/", headers=caller), api.get("/status", headers=caller)
        assert info.status_code == status.status_code == 200
        assert set(info.json()) == set(status.json()) == PUBLIC_KEYS
        assert status.json()["status"] == "ok" and api.app.state.settings.rag_server_url not in info.text


def test_admins_see_the_internals(api, admin: Account):
    info = api.get("/", headers=admin.headers).json()
    assert info["rag_server"] == api.app.state.settings.rag_server_url and info["environment"] == "test"
    status = api.get("/status", headers=admin.headers).json()
    assert status["status"] == "ok" and status["checks"]["rag_server"] == "ok"
    assert status["database"] in ("sqlite", "postgresql") and status["kv_store"] == "memory"
