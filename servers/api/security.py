"""Passwords (bcrypt through libpass) and tokens (JWT through python-jose): access, refresh, password reset, and
the known-device mark a browser keeps after logging in.

bcrypt is slow on purpose (tens to hundreds of milliseconds): async routes call it through a thread pool."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from jose import JWTError, jwt
from passlib.context import CryptContext

from core.settings import Settings, get_settings

TokenType = Literal["access", "refresh", "reset", "device"]
BCRYPT_MAX_BYTES = 72


@lru_cache
def _passwords(rounds: int) -> tuple[CryptContext, str]:
    """The bcrypt context and a hash to verify against when an account does not exist (same time either way)."""
    context = CryptContext(schemes=["bcrypt"], deprecated="auto", bcrypt__rounds=rounds)
    return context, context.hash("not-a-real-password")


class InvalidToken(ValueError):
    pass


@dataclass(frozen=True)
class TokenClaims:
    subject: str
    token_id: str
    type: TokenType
    issued_at: float
    expires_at: float


def password_problem(password: str) -> str | None:
    """Why a new password is refused (bcrypt reads only 72 bytes: longer ones are refused, never cut)."""
    if len(password) < 8:
        return "Password must have at least 8 characters"
    if len(password.encode()) > BCRYPT_MAX_BYTES:
        return f"Password must be at most {BCRYPT_MAX_BYTES} bytes in UTF-8 (bcrypt ignores the rest)"
    return None


def hash_password(password: str) -> str:
    return _passwords(get_settings().bcrypt_rounds)[0].hash(password)


def verify_password(password: str, hashed: str | None) -> bool:
    context, dummy = _passwords(get_settings().bcrypt_rounds)
    if hashed is None or len(password.encode()) > BCRYPT_MAX_BYTES:
        context.verify("not-the-password", dummy)
        return False
    return context.verify(password, hashed)


class Tokens:
    def __init__(self, settings: Settings):
        self.key = settings.jwt_key()
        self.algorithm = settings.jwt_algorithm
        self.lifetimes = {
            "access": settings.access_token_expire_minutes * 60,
            "refresh": settings.refresh_token_expire_days * 86400,
            "reset": settings.password_reset_expire_minutes * 60,
            "device": settings.known_device_days * 86400,
        }

    def issue(self, subject: str, token_type: TokenType, **claims: str) -> tuple[str, TokenClaims]:
        now = time.time()
        issued = TokenClaims(subject, uuid.uuid4().hex, token_type, now, now + self.lifetimes[token_type])
        payload = {"sub": subject, "jti": issued.token_id, "type": token_type, "iat": int(now),
                   "iat_ms": int(now * 1000), "exp": int(issued.expires_at), **claims}
        return jwt.encode(payload, self.key, algorithm=self.algorithm), issued

    def read(self, token: str, token_type: TokenType) -> TokenClaims:
        try:
            payload = jwt.decode(token, self.key, algorithms=[self.algorithm])
        except JWTError as error:
            raise InvalidToken(f"Invalid token: {error}") from error
        if payload.get("type") != token_type:
            raise InvalidToken(f"Not an {token_type} token")
        try:
            return TokenClaims(str(payload["sub"]), str(payload["jti"]), token_type,
                               payload["iat_ms"] / 1000, float(payload["exp"]))
        except (KeyError, TypeError) as error:
            raise InvalidToken("Token lacks a required claim") from error
