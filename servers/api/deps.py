"""What routes depend on: the settings, a database session, the key-value store, the RAG client, the caller."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from core.kv import KeyValueStore, StoreUnavailable
from core.logs import set_user
from core.settings import Settings
from servers.api.models import Role, User
from servers.api.proxies import client_address, limit_key
from servers.api.rag_client import RagClient
from servers.api.security import InvalidToken, TokenClaims, Tokens

oauth2 = OAuth2PasswordBearer(tokenUrl="/auth/login", auto_error=False)
UNAUTHENTICATED = {"WWW-Authenticate": "Bearer"}


# The getters are async although they do not await: FastAPI runs a sync dependency in a worker thread.
async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_db(request: Request) -> Iterator[Session]:
    with request.app.state.sessions() as session:
        yield session


async def get_kv(request: Request) -> KeyValueStore:
    return request.app.state.kv


async def get_rag(request: Request) -> RagClient:
    return request.app.state.rag


async def get_tokens(request: Request) -> Tokens:
    return request.app.state.tokens


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[Session, Depends(get_db)]
KVDep = Annotated[KeyValueStore, Depends(get_kv)]
RagDep = Annotated[RagClient, Depends(get_rag)]
TokensDep = Annotated[Tokens, Depends(get_tokens)]


def _refuse(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, UNAUTHENTICATED)


async def access_claims(token: Annotated[str | None, Depends(oauth2)], tokens: TokensDep, kv: KVDep) -> TokenClaims:
    if token is None:
        raise _refuse("Not authenticated")
    try:
        claims = tokens.read(token, "access")
    except InvalidToken as error:
        raise _refuse(str(error)) from None
    if await kv.is_revoked(claims.token_id):
        raise _refuse("Token revoked (logged out)")
    set_user(claims.subject)  # log lines of this request name its user
    return claims


async def optional_access_claims(
    token: Annotated[str | None, Depends(oauth2)], tokens: TokensDep, kv: KVDep
) -> TokenClaims | None:
    return None if token is None else await access_claims(token, tokens, kv)


def _active_user(claims: TokenClaims, session: Session) -> User:
    user = session.get(User, claims.subject)
    if user is None:
        raise _refuse("The account of this token no longer exists")
    if claims.issued_at < user.tokens_valid_after.timestamp():
        raise _refuse("Token issued before the password changed; log in again")
    if not user.is_active:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Account deactivated")
    return user


def current_user(claims: Annotated[TokenClaims, Depends(access_claims)], session: SessionDep) -> User:
    return _active_user(claims, session)


def optional_user(claims: Annotated[TokenClaims | None, Depends(optional_access_claims)],
                  session: SessionDep) -> User | None:
    return None if claims is None else _active_user(claims, session)


CurrentUser = Annotated[User, Depends(current_user)]
OptionalUser = Annotated[User | None, Depends(optional_user)]
ClaimsDep = Annotated[TokenClaims, Depends(access_claims)]


def require_role(*roles: Role):
    def check(user: CurrentUser) -> User:
        if user.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"Needs the role {' or '.join(roles)}")
        return user

    return check


require_admin = require_role(Role.admin)
require_staff = require_role(Role.admin, Role.staff)
StaffUser = Annotated[User, Depends(require_staff)]
AdminUser = Annotated[User, Depends(require_admin)]


async def _lenient_claims(token: Annotated[str | None, Depends(oauth2)], tokens: TokensDep) -> TokenClaims | None:
    try:
        return None if token is None else tokens.read(token, "access")
    except InvalidToken:
        return None


async def _unrevoked_claims(claims: Annotated[TokenClaims | None, Depends(_lenient_claims)],
                            kv: KVDep) -> TokenClaims | None:
    try:
        return None if claims is None or await kv.is_revoked(claims.token_id) else claims
    except StoreUnavailable:  # revocation cannot be checked: the caller sees what anyone sees
        return None


def viewer_is_admin(claims: Annotated[TokenClaims | None, Depends(_unrevoked_claims)], session: SessionDep) -> bool:
    """Whether the caller is an active admin; a missing, bad or old token simply makes an ordinary viewer
    (public pages answer everyone, admins see more)."""
    if claims is None:
        return False
    try:
        return _active_user(claims, session).role == Role.admin
    except HTTPException:
        return False


AdminViewer = Annotated[bool, Depends(viewer_is_admin)]


def client_ip(request: Request) -> str:
    """The client's address: the socket peer, or what a trusted proxy (TRUSTED_PROXIES) says it saw."""
    peer = request.client.host if request.client else None
    return client_address(peer, request.headers, request.app.state.trusted_proxies)


def client_limit_key(request: Request) -> str:
    """What per-address limits count for this client (an IPv6 client's whole /64)."""
    return limit_key(client_ip(request))
