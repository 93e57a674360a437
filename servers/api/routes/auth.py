"""Accounts: register, log in (OAuth2 password form), refresh, log out, me, change and reset the password.

bcrypt and database calls of the async routes run in the thread pool, never on the event loop."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from core.kv import KeyValueStore
from core.settings import Settings
from servers.api.accounts import create_user, normalize_email, set_password, user_by_email
from servers.api.deps import (
    ClaimsDep,
    CurrentUser,
    KVDep,
    SessionDep,
    SettingsDep,
    TokensDep,
    client_limit_key,
)
from servers.api.email import send_password_reset
from servers.api.limits import admit_login, enforce, password_change_limit, registration_limit
from servers.api.metrics import LOGINS
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
LOGIN_PATH = "/auth/login"
# Set by a successful login (signed, HttpOnly, sent back only to the login route): see servers/api/limits.py.
KNOWN_DEVICE_COOKIE = "dnaforca_known_device"
RESET_REQUESTS_PER_ACCOUNT = 3


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


async def issue_reset_token(tokens: Tokens, kv: KeyValueStore, user_id: str) -> str:
    """A password reset token; the user's older ones are revoked, so only the newest e-mailed link works."""
    token, claims = tokens.issue(user_id, "reset")
    lifetime = claims.expires_at - claims.issued_at
    newest = kv.key("reset-newest", user_id)
    older = await kv.get(newest)
    await kv.set(newest, claims.token_id, lifetime)
    await kv.save_one_use_token("reset", claims.token_id, user_id, lifetime)
    if older:
        await kv.revoke_one_use_token("reset", older)
    return token


async def spend_reset_token(tokens: Tokens, kv: KeyValueStore, token: str) -> TokenClaims:
    """Like spend_one_use, and refused when a newer reset was requested since (even by a concurrent request)."""
    claims = await spend_one_use(tokens, kv, token, "reset")
    if await kv.get(kv.key("reset-newest", claims.subject)) != claims.token_id:
        raise InvalidToken("a newer reset link was sent")
    return claims


async def issue_tokens(user: User, tokens: Tokens, kv: KeyValueStore) -> TokenOut:
    access, access_claims = tokens.issue(user.id, "access", role=user.role.value)
    return TokenOut(access_token=access, refresh_token=await issue_one_use(tokens, kv, user.id, "refresh"),
                    expires_in=int(access_claims.expires_at - access_claims.issued_at))


def known_device(request: Request, tokens: Tokens, user: User | None) -> str | None:
    """The id of the known-device mark this browser carries for `user`, if it carries a valid one."""
    mark = request.cookies.get(KNOWN_DEVICE_COOKIE)
    if not mark or user is None:
        return None
    try:
        claims = tokens.read(mark, "device")
    except InvalidToken:
        return None
    return claims.token_id if claims.subject == user.id else None


def mark_known_device(response: Response, tokens: Tokens, settings: Settings, user: User) -> None:
    mark, claims = tokens.issue(user.id, "device")
    response.set_cookie(KNOWN_DEVICE_COOKIE, mark, max_age=int(claims.expires_at - claims.issued_at),
                        path=LOGIN_PATH, httponly=True, secure=settings.environment != "development",
                        samesite="strict")


@router.post("/register", status_code=status.HTTP_201_CREATED, dependencies=[Depends(registration_limit)])
def register(body: RegisterIn, session: SessionDep, settings: SettingsDep) -> UserOut:
    """A student account. Limited per client address (REGISTRATIONS_PER_IP_PER_HOUR)."""
    if not settings.allow_registration:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Registration is closed; ask an administrator for an account")
    return UserOut.model_validate(create_user(session, body.email, body.password, body.full_name))


@router.post("/login")
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, response: Response,
    session: SessionDep, settings: SettingsDep, kv: KVDep, tokens: TokensDep,
) -> TokenOut:
    """OAuth2 password flow: `username` is the e-mail. Limited per address, per account and client, and per
    account for new devices (servers/api/limits.py): failures from elsewhere never lock the owner out."""
    email = normalize_email(form.username)
    user = await run_in_threadpool(user_by_email, session, email)
    try:
        client = await admit_login(kv, settings, email=email, address=client_limit_key(request),
                                   device_id=known_device(request, tokens, user))
    except HTTPException:
        LOGINS.labels("rate_limited").inc()
        raise
    if not await run_in_threadpool(verify_password, form.password, user.hashed_password if user else None):
        LOGINS.labels("wrong_credentials").inc()
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Wrong e-mail or password", {"WWW-Authenticate": "Bearer"})
    if not user.is_active:
        LOGINS.labels("deactivated").inc()
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Account deactivated")
    LOGINS.labels("success").inc()
    await kv.clear_hits(client)
    mark_known_device(response, tokens, settings, user)
    return await issue_tokens(user, tokens, kv)


@router.post("/refresh")
async def refresh(body: RefreshIn, session: SessionDep, kv: KVDep, tokens: TokensDep) -> TokenOut:
    """A new token pair; the refresh token is spent (a replayed one is refused)."""
    try:
        claims = await spend_one_use(tokens, kv, body.refresh_token, "refresh")
    except InvalidToken as error:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"{INVALID_REFRESH}: {error}") from None
    user = await run_in_threadpool(session.get, User, claims.subject)
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


@router.post("/change-password", dependencies=[Depends(password_change_limit)])
def change_password(body: ChangePasswordIn, user: CurrentUser, session: SessionDep) -> MessageOut:
    """Every token issued before now stops working (log in again with the new password), reset links included.
    Limited per user (PASSWORD_CHANGES_PER_USER_PER_HOUR): a stolen session cannot guess the password."""
    if not verify_password(body.current_password, user.hashed_password):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "The current password is wrong")
    set_password(session, user, body.new_password)
    return MessageOut(detail="Password changed; log in again")


@router.post("/password-reset/request", status_code=status.HTTP_202_ACCEPTED)
async def request_password_reset(
    body: ResetRequestIn, request: Request, background: BackgroundTasks,
    session: SessionDep, settings: SettingsDep, kv: KVDep, tokens: TokensDep,
) -> MessageOut:
    """E-mail a one-use reset link (older links of the account stop working). The answer is the same whether or
    not the account exists."""
    window = settings.login_window_seconds
    await enforce(kv, f"reset-ip:{client_limit_key(request)}", settings.login_attempts_per_ip, window,
                  "Too many password reset requests from this address")
    user = await run_in_threadpool(user_by_email, session, body.email)
    per_account = await kv.hit(f"reset-account:{normalize_email(body.email)}", RESET_REQUESTS_PER_ACCOUNT, window)
    if user is not None and user.is_active and per_account.allowed:
        token = await issue_reset_token(tokens, kv, user.id)
        background.add_task(send_password_reset, settings, user.email, user.full_name, token)
    return MessageOut(detail="If the account exists, an e-mail with a reset link is on its way")


def _reset_password(session: Session, claims: TokenClaims, password: str) -> None:
    user = session.get(User, claims.subject)
    if user is None or not user.is_active:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Invalid reset link: the account is gone or deactivated")
    if claims.issued_at < user.tokens_valid_after.timestamp():
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Invalid reset link: the password changed since it was sent")
    set_password(session, user, password)


@router.post("/password-reset/confirm")
async def confirm_password_reset(body: ResetConfirmIn, session: SessionDep, kv: KVDep, tokens: TokensDep) -> MessageOut:
    """Set a new password with the newest reset link, once; a link dies with any password change."""
    try:
        claims = await spend_reset_token(tokens, kv, body.token)
    except InvalidToken as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"Invalid reset link: {error}") from None
    await run_in_threadpool(_reset_password, session, claims, body.new_password)
    return MessageOut(detail="Password changed; log in with the new password")
