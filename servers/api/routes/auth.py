"""Accounts: register, log in (OAuth2 password form), refresh, log out, me, change and reset the password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from core.kv import KeyValueStore
from servers.api.accounts import create_user, normalize_email, set_password, user_by_email
from servers.api.deps import (
    ClaimsDep,
    CurrentUser,
    KVDep,
    SessionDep,
    SettingsDep,
    TokensDep,
    client_ip,
)
from servers.api.email import send_password_reset
from servers.api.models import User
from servers.api.schemas import (
    ChangePasswordIn,
    LogoutIn,
    MessageOut,
    MeUpdateIn,
    RefreshIn,
    RegisterIn,
    ResetConfirmIn,
    ResetRequestIn,
    TokenOut,
    UserOut,
)
from servers.api.security import InvalidToken, TokenClaims, Tokens, TokenType, verify_password

router = APIRouter(prefix="/auth", tags=["auth"])
INVALID_REFRESH = "Invalid refresh token"


def too_many(detail: str, retry_after: float) -> HTTPException:
    return HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, detail, {"Retry-After": str(max(int(retry_after), 1))})


async def issue_one_use(tokens: Tokens, kv: KeyValueStore, subject: str, kind: TokenType) -> str:
    """A refresh or reset token, remembered by the key-value store until it is used or expires."""
    token, claims = tokens.issue(subject, kind)
    await kv.save_one_use_token(kind, claims.token_id, subject, claims.expires_at - claims.issued_at)
    return token


async def spend_one_use(tokens: Tokens, kv: KeyValueStore, token: str, kind: TokenType) -> TokenClaims:
    """The claims of a valid one-use token, which this call spends; InvalidToken if bad, used or revoked."""
    claims = tokens.read(token, kind)
    if await kv.use_one_use_token(kind, claims.token_id) != claims.subject:
        raise InvalidToken("already used or revoked")
    return claims


async def issue_tokens(user: User, tokens: Tokens, kv: KeyValueStore) -> TokenOut:
    access, access_claims = tokens.issue(user.id, "access", role=user.role.value)
    return TokenOut(access_token=access, refresh_token=await issue_one_use(tokens, kv, user.id, "refresh"),
                    expires_in=int(access_claims.expires_at - access_claims.issued_at))


@router.post("/register", status_code=status.HTTP_201_CREATED)
def register(body: RegisterIn, session: SessionDep, settings: SettingsDep) -> UserOut:
    if not settings.allow_registration:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Registration is closed; ask an administrator for an account")
    return UserOut.model_validate(create_user(session, body.email, body.password, body.full_name))


@router.post("/login")
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request, session: SessionDep, settings: SettingsDep, kv: KVDep, tokens: TokensDep,
) -> TokenOut:
    """OAuth2 password flow: `username` is the e-mail. Limited per client IP and per account."""
    window = settings.login_window_seconds
    by_ip = await kv.hit(f"login-ip:{client_ip(request)}", settings.login_attempts_per_ip, window)
    if not by_ip.allowed:
        raise too_many("Too many login attempts from this address; try again later", by_ip.retry_after)
    email = normalize_email(form.username)
    failures_key = kv.key("login-failures", email)
    if int(await kv.get(failures_key) or 0) >= settings.login_attempts_per_account:
        raise too_many("Too many failed logins for this account; try again later", window)
    user = user_by_email(session, email)
    if not verify_password(form.password, user.hashed_password if user else None):
        await kv.increment(failures_key, window)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Wrong e-mail or password", {"WWW-Authenticate": "Bearer"})
    if not user.is_active:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Account deactivated")
    await kv.delete(failures_key)
    return await issue_tokens(user, tokens, kv)


@router.post("/refresh")
async def refresh(body: RefreshIn, session: SessionDep, kv: KVDep, tokens: TokensDep) -> TokenOut:
    """A new token pair; the refresh token is spent (a replayed one is refused)."""
    try:
        claims = await spend_one_use(tokens, kv, body.refresh_token, "refresh")
    except InvalidToken as error:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"{INVALID_REFRESH}: {error}") from None
    user = session.get(User, claims.subject)
    if user is None or not user.is_active or claims.issued_at < user.tokens_valid_after.timestamp():
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, INVALID_REFRESH)
    return await issue_tokens(user, tokens, kv)


@router.post("/logout")
async def logout(claims: ClaimsDep, kv: KVDep, tokens: TokensDep, body: LogoutIn | None = None) -> MessageOut:
    """Revoke this access token and, if given, its refresh token."""
    await kv.revoke_token(claims.token_id, claims.expires_at)
    if body and body.refresh_token:
        try:
            refresh_claims = tokens.read(body.refresh_token, "refresh")
        except InvalidToken:
            refresh_claims = None
        if refresh_claims and refresh_claims.subject == claims.subject:
            await kv.revoke_one_use_token("refresh", refresh_claims.token_id)
    return MessageOut(detail="Logged out")


@router.get("/me")
def me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)


@router.patch("/me")
def update_me(body: MeUpdateIn, user: CurrentUser, session: SessionDep) -> UserOut:
    user.full_name = body.full_name
    session.commit()
    return UserOut.model_validate(user)


@router.post("/change-password")
def change_password(body: ChangePasswordIn, user: CurrentUser, session: SessionDep) -> MessageOut:
    """Every token issued before now stops working (log in again with the new password)."""
    if not verify_password(body.current_password, user.hashed_password):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "The current password is wrong")
    set_password(session, user, body.new_password)
    return MessageOut(detail="Password changed; log in again")


@router.post("/password-reset/request", status_code=status.HTTP_202_ACCEPTED)
async def request_password_reset(
    body: ResetRequestIn, request: Request, background: BackgroundTasks,
    session: SessionDep, settings: SettingsDep, kv: KVDep, tokens: TokensDep,
) -> MessageOut:
    """E-mail a one-use reset link. The answer is the same whether or not the account exists."""
    window = settings.login_window_seconds
    limit = await kv.hit(f"reset-ip:{client_ip(request)}", settings.login_attempts_per_ip, window)
    if not limit.allowed:
        raise too_many("Too many password reset requests; try again later", limit.retry_after)
    user = user_by_email(session, body.email)
    per_account = await kv.hit(f"reset-account:{normalize_email(body.email)}", 3, window)
    if user is not None and user.is_active and per_account.allowed:
        token = await issue_one_use(tokens, kv, user.id, "reset")
        background.add_task(send_password_reset, settings, user.email, user.full_name, token)
    return MessageOut(detail="If the account exists, an e-mail with a reset link is on its way")


@router.post("/password-reset/confirm")
async def confirm_password_reset(body: ResetConfirmIn, session: SessionDep, kv: KVDep, tokens: TokensDep) -> MessageOut:
    try:
        claims = await spend_one_use(tokens, kv, body.token, "reset")
    except InvalidToken as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"Invalid reset link: {error}") from None
    user = session.get(User, claims.subject)
    if user is None or not user.is_active:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Invalid reset link: the account is gone or deactivated")
    set_password(session, user, body.new_password)
    return MessageOut(detail="Password changed; log in with the new password")
