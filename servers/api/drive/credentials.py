"""Credentials for the Drive API: a service account (servers: share the course folders with its e-mail) or an
installed-app OAuth client whose token.json is kept beside the credentials and refreshed; an API key alone reads
folders shared publicly by link. `console_consent` is the first OAuth consent, from a terminal."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from google.auth.credentials import Credentials
from google.auth.exceptions import GoogleAuthError, RefreshError
from google.auth.transport.requests import Request
from google.oauth2 import service_account
from google.oauth2.credentials import Credentials as UserCredentials
from google_auth_oauthlib.flow import InstalledAppFlow

from core.settings import Settings

SCOPES = ["https://www.googleapis.com/auth/drive.readonly"]
# Where the browser is sent after the consent; nothing listens there: the person pastes the address it shows.
CONSENT_REDIRECT = "http://localhost:1/"


class DriveNotConfigured(RuntimeError):
    """Neither credentials nor an API key: Drive sync is off."""


class CredentialsError(RuntimeError):
    """Credentials are present but unusable: malformed, of an unknown kind, without consent, or revoked."""


def _client_secrets(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CredentialsError(f"{path} is not a readable JSON credentials file: {error}") from None
    if not isinstance(data, dict):
        raise CredentialsError(f"{path} is not a Google credentials file")
    return data


def _credentials(settings: Settings) -> tuple[str | None, dict]:
    """(service_account | oauth | api_key | None, the credentials file's content), the file read once; malformed
    credentials raise CredentialsError."""
    path = settings.drive_credentials_path
    if path.is_file():
        data = _client_secrets(path)
        if data.get("type") == "service_account":
            return "service_account", data
        if "installed" in data or "web" in data:
            return "oauth", data
        raise CredentialsError(f"{path} is neither a service account key nor an OAuth client (installed app)")
    return ("api_key" if settings.google_drive_api_key else None), {}


def credentials_kind(settings: Settings) -> str | None:
    return _credentials(settings)[0]


def drive_configured(settings: Settings) -> bool:
    """Whether anything is there to sync with (malformed credentials count: the sync reports why they fail)."""
    return settings.drive_credentials_path.is_file() or settings.google_drive_api_key is not None


def load_credentials(settings: Settings) -> Credentials | None:
    """Credentials ready for use (an OAuth token refreshed and saved when it had expired), or None when only
    GOOGLE_DRIVE_API_KEY is set."""
    kind, data = _credentials(settings)
    if kind is None:
        raise DriveNotConfigured("Google Drive is not configured: set GOOGLE_CREDENTIALS_PATH (or put "
                                 "credentials.json in DATA_DIR) or GOOGLE_DRIVE_API_KEY")
    if kind == "api_key":
        return None
    path = settings.drive_credentials_path
    if kind == "service_account":
        try:
            return service_account.Credentials.from_service_account_info(data, scopes=SCOPES)
        except (ValueError, KeyError) as error:
            raise CredentialsError(f"{path}: the service account key is malformed ({error})") from None
    token_path = settings.drive_token_path
    if not token_path.is_file():
        raise CredentialsError(f"No OAuth token at {token_path}: run `dnaforca drive-auth` once to give consent")
    client = data.get("installed") or data.get("web") or {}
    try:
        credentials = UserCredentials.from_authorized_user_file(str(token_path), SCOPES)
    except (ValueError, KeyError) as error:
        raise CredentialsError(f"{token_path} is not a valid OAuth token ({error}); "
                               "run `dnaforca drive-auth`") from None
    if isinstance(client, dict) and client.get("token_uri"):
        expiry = credentials.expiry  # the copy google-auth makes does not keep it
        credentials = credentials.with_token_uri(client["token_uri"])  # the client's own endpoint, as its flow used
        credentials.expiry = expiry
    if not credentials.valid:
        try:
            credentials.refresh(Request())
        except RefreshError as error:
            raise CredentialsError(f"The OAuth token was revoked or has expired ({error}); run `dnaforca drive-auth` "
                                   "again") from None
        except GoogleAuthError as error:
            raise CredentialsError(f"Could not refresh the OAuth token: {error}") from None
        save_token(credentials, token_path)
    return credentials


def save_token(credentials: UserCredentials, path: Path) -> None:
    """token.json readable by this user only (it holds a refresh token)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(credentials.to_json())
    temporary.replace(path)


def console_consent(settings: Settings, ask: Callable[[str], str], tell: Callable[[str], None]) -> Path:
    """The first consent of an OAuth client, from a terminal: open the link anywhere, allow read access to Drive,
    paste back the address the browser lands on (or just its `code`). Saves token.json; returns its path."""
    kind, data = _credentials(settings)
    if kind != "oauth":
        raise CredentialsError(f"{settings.drive_credentials_path} is not an OAuth client (installed app): nothing "
                               "to consent to")
    flow = InstalledAppFlow.from_client_config(data, SCOPES, redirect_uri=CONSENT_REDIRECT)
    url, _ = flow.authorization_url(access_type="offline", prompt="consent")
    tell(f"Open this link in a browser, sign in with the account that sees the course folders and allow access:\n"
         f"\n  {url}\n\nThe browser then fails to load a page on localhost: copy its address.")
    answer = ask("Address (or code): ").strip()
    code = parse_qs(urlparse(answer).query).get("code", [answer])[0]
    if not code:
        raise CredentialsError("No authorization code was given")
    try:
        flow.fetch_token(code=code)
    except Exception as error:  # oauthlib raises its own hierarchy for every refusal
        raise CredentialsError(f"Google refused the authorization code: {error}") from None
    token_path = settings.drive_token_path
    save_token(flow.credentials, token_path)
    return token_path
