"""Rate limits of the API server: fixed windows counted in the key-value store (shared by every process with
Redis). A refused call is a 429 with Retry-After and a sentence saying when to try again.

Logins are limited so that nobody can lock the owner out of an account:

- per client address (an IPv6 client's whole /64): LOGIN_ATTEMPTS_PER_IP attempts per window, any accounts;
- per (account, client): LOGIN_FAILURES_PER_CLIENT failed attempts per window, where the client is the
  browser's known-device mark for that account (a signed cookie set by a successful login) or else its
  address. An attacker's failures hold only the attacker's own address, never the owner's;
- per account, only for clients *without* that account's known-device mark: LOGIN_ATTEMPTS_PER_ACCOUNT
  attempts per window, all addresses together. This stops guessing spread over many addresses, and the
  owner, logging in from a browser that logged in before, is never held by it.

Every attempt is counted (an atomic increment) *before* the password is checked, so N guesses sent at once
are N attempts; a successful login clears its (account, client) failures.
"""

from __future__ import annotations

import math

from fastapi import HTTPException, Request, status

from core.kv import KeyValueStore
from core.settings import Settings
from servers.api.deps import CurrentUser, KVDep, OptionalUser, SettingsDep, client_limit_key
from servers.api.metrics import RATE_LIMITED

MINUTE, HOUR, DAY = 60, 3600, 86400


def in_words(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    if seconds < 2 * HOUR:
        return f"{math.ceil(seconds / MINUTE)} minutes"
    return f"{math.ceil(seconds / HOUR)} hours"


def too_many(detail: str, retry_after: float) -> HTTPException:
    seconds = max(math.ceil(retry_after), 1)
    return HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, f"{detail}; try again in {in_words(seconds)}",
                         {"Retry-After": str(seconds)})


async def enforce(kv: KeyValueStore, bucket: str, limit: int, window_seconds: float, detail: str) -> None:
    """Count one event in `bucket`; 429 when it is over `limit` in the window."""
    result = await kv.hit(bucket, limit, window_seconds)
    if not result.allowed:
        RATE_LIMITED.labels(bucket.partition(":")[0]).inc()  # the limit's kind, never the address or account
        raise too_many(detail, result.retry_after)


async def admit_login(kv: KeyValueStore, settings: Settings, *, email: str, address: str,
                      device_id: str | None) -> str:
    """Count a login attempt before its password is checked (429 when a limit is reached); returns the
    (account, client) bucket, which the caller clears when the password is right."""
    window = settings.login_window_seconds
    await enforce(kv, f"login-ip:{address}", settings.login_attempts_per_ip, window,
                  "Too many login attempts from this address")
    client = f"login-failures:{email}:" + (f"device:{device_id}" if device_id else f"ip:{address}")
    await enforce(kv, client, settings.login_failures_per_client, window,
                  "Too many failed logins to this account from this device")
    if device_id is None:
        await enforce(kv, f"login-account:{email}", settings.login_attempts_per_account, window,
                      "Too many logins to this account from new devices (a browser that logged in to it "
                      "before can still log in)")
    return client


async def registration_limit(request: Request, kv: KVDep, settings: SettingsDep) -> None:
    await enforce(kv, f"register-ip:{client_limit_key(request)}", settings.registrations_per_ip_per_hour, HOUR,
                  "Too many accounts created from this address")


async def password_change_limit(user: CurrentUser, kv: KVDep, settings: SettingsDep) -> None:
    await enforce(kv, f"password-change:{user.id}", settings.password_changes_per_user_per_hour, HOUR,
                  "Too many password change attempts")


async def _charge_question(kv: KeyValueStore, settings: Settings, user_id: str) -> None:
    await enforce(kv, f"chat-user-minute:{user_id}", settings.chat_per_user_per_minute, MINUTE,
                  "Too many questions in a minute")
    await enforce(kv, f"chat-user-day:{user_id}", settings.chat_per_user_per_day, DAY,
                  "You reached the daily limit of questions")


async def chat_limit(request: Request, user: OptionalUser, kv: KVDep, settings: SettingsDep) -> None:
    """Signed-in callers per user (a minute and a day, shared with /chat-auth); anonymous ones per address."""
    if user is None:
        await enforce(kv, f"chat-ip:{client_limit_key(request)}", settings.anonymous_chat_per_minute, MINUTE,
                      "Too many questions from this address (log in to ask more)")
    else:
        await _charge_question(kv, settings, user.id)


async def signed_in_chat_limit(user: CurrentUser, kv: KVDep, settings: SettingsDep) -> None:
    await _charge_question(kv, settings, user.id)
