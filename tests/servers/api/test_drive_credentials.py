"""Drive credentials: a service account, an OAuth client's token refreshed and saved, the console consent of
`dnaforca drive-auth`, and clear errors for missing, malformed and revoked credentials. Google's token endpoint
is the local fake (tests/support/fake_drive.py); google-auth and oauthlib make their real requests to it."""

from __future__ import annotations

import json
import stat

import pytest
from typer.testing import CliRunner

from servers.api.drive.credentials import (
    CredentialsError,
    DriveNotConfigured,
    credentials_kind,
    load_credentials,
)
from servers.cli import app
from tests.support.fake_drive import fake_drive_server, oauth_client_file, service_account_file


@pytest.fixture
def drive():
    with fake_drive_server() as fake:
        yield fake


@pytest.fixture
def configure(settings, monkeypatch):
    from core.settings import get_settings

    def apply(**values: str):
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        return get_settings()

    yield apply
    get_settings.cache_clear()


def expired_token(path, drive) -> None:
    path.write_text(json.dumps({
        "token": "stale", "refresh_token": "fake-refresh-token", "token_uri": f"{drive.url}/token",
        "client_id": "client.apps.googleusercontent.com", "client_secret": "not-a-secret",
        "scopes": ["https://www.googleapis.com/auth/drive.readonly"], "expiry": "2020-01-01T00:00:00Z"}))


def test_missing_and_malformed_credentials_are_named(configure, tmp_path):
    settings = configure()
    assert credentials_kind(settings) is None
    with pytest.raises(DriveNotConfigured, match="GOOGLE_CREDENTIALS_PATH"):
        load_credentials(settings)
    broken = tmp_path / "credentials.json"
    broken.write_text("{not json")
    with pytest.raises(CredentialsError, match="not a readable JSON"):
        load_credentials(configure(GOOGLE_CREDENTIALS_PATH=str(broken)))
    broken.write_text(json.dumps({"type": "authorized_user"}))
    with pytest.raises(CredentialsError, match="neither a service account"):
        load_credentials(configure(GOOGLE_CREDENTIALS_PATH=str(broken)))
    broken.write_text(json.dumps({"type": "service_account", "client_email": "x"}))
    with pytest.raises(CredentialsError, match="malformed"):
        load_credentials(configure(GOOGLE_CREDENTIALS_PATH=str(broken)))
    assert load_credentials(configure(GOOGLE_CREDENTIALS_PATH=str(tmp_path / "absent.json"),
                                      GOOGLE_DRIVE_API_KEY="key")) is None  # public folders by API key


def test_service_account_gets_a_token(configure, drive, tmp_path):
    key = tmp_path / "sa.json"
    service_account_file(key, drive)
    credentials = load_credentials(configure(GOOGLE_CREDENTIALS_PATH=str(key)))
    from google.auth.transport.requests import Request

    credentials.refresh(Request())  # a signed JWT exchanged at the token endpoint
    assert credentials.token == drive.access_token


def test_oauth_token_is_refreshed_saved_and_revocation_is_clear(configure, drive, tmp_path):
    client = tmp_path / "secrets" / "credentials.json"
    client.parent.mkdir()
    oauth_client_file(client, drive)
    settings = configure(GOOGLE_CREDENTIALS_PATH=str(client))
    with pytest.raises(CredentialsError, match="dnaforca drive-auth"):
        load_credentials(settings)  # no consent yet
    token = client.parent / "token.json"  # beside the credentials, the folder being writable
    assert settings.drive_token_path == token
    expired_token(token, drive)
    credentials = load_credentials(settings)
    assert credentials.token == drive.access_token and json.loads(token.read_text())["token"] == drive.access_token
    assert stat.S_IMODE(token.stat().st_mode) == 0o600

    expired_token(token, drive)
    drive.revoke()
    with pytest.raises(CredentialsError, match="revoked or has expired"):
        load_credentials(settings)


def test_drive_auth_console_consent(configure, drive, tmp_path, monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fake token endpoint is plain http on loopback
    client = tmp_path / "credentials.json"
    oauth_client_file(client, drive)
    settings = configure(GOOGLE_CREDENTIALS_PATH=str(client))
    result = CliRunner().invoke(app, ["drive-auth"], input="http://localhost:1/?state=x&code=4/abc&scope=drive\n")
    assert result.exit_code == 0, result.output
    assert f"{drive.url}/auth?" in result.output and "access_type=offline" in result.output
    saved = json.loads(settings.drive_token_path.read_text())
    assert saved["refresh_token"] == "fake-refresh-token" and saved["token"] == drive.access_token
    assert load_credentials(settings).token == drive.access_token

    drive.revoke()
    result = CliRunner().invoke(app, ["drive-auth"], input="4/abc\n")
    assert result.exit_code == 1 and "Google refused the authorization code" in result.output


def test_drive_auth_refuses_a_service_account(configure, drive, tmp_path):
    key = tmp_path / "sa.json"
    service_account_file(key, drive)
    configure(GOOGLE_CREDENTIALS_PATH=str(key))
    result = CliRunner().invoke(app, ["drive-auth"])
    assert result.exit_code == 1 and "not an OAuth client" in result.output
