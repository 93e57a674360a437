"""/drive/* when Drive is not set up, or set up with unusable credentials: clear answers, nothing queued."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from servers.api.app import create_app


@pytest.mark.parametrize("database_url", [None])
def test_not_configured_then_malformed_credentials(api, admin, staff, api_settings, monkeypatch, tmp_path):
    status = api.get("/drive/status", headers=staff.headers).json()
    assert status["configured"] is False and status["credentials"] is None and status["next_run"] is None
    for call in (lambda: api.post("/drive/sync", headers=admin.headers),
                 lambda: api.post("/drive/folders", headers=admin.headers, json={"folder": "abc"})):
        response = call()
        assert response.status_code == 409 and "GOOGLE_CREDENTIALS_PATH" in response.json()["detail"]
    assert api.post("/drive/sync", headers=staff.headers).status_code == 403  # staff read, admins write
    assert api.delete("/drive/folders/abc", headers=admin.headers).status_code == 404
    assert api.post("/drive/folders", headers=admin.headers, json={"folder": "a b'c"}).status_code == 400

    broken = tmp_path / "credentials.json"
    broken.write_text('{"installed": {"client_id": "x"}}')  # an OAuth client that never got consent
    settings = api_settings.model_copy(update={"google_credentials_path": broken})
    with TestClient(create_app(settings)) as client:
        status = client.get("/drive/status", headers=staff.headers).json()
        assert status["configured"] and status["credentials"] == "oauth"
        response = client.post("/drive/folders", headers=admin.headers, json={"folder": "abc"})
        assert response.status_code == 503 and "dnaforca drive-auth" in response.json()["detail"]
        broken.write_text("[1, 2]")
        status = client.get("/drive/status", headers=staff.headers).json()
        assert not status["configured"] and "not a Google credentials file" in status["credentials_error"]
        assert client.post("/drive/sync", headers=admin.headers).status_code == 503
