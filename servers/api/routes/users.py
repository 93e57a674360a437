"""Administration of accounts: list, create, change role, deactivate, delete (admins only)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, status
from sqlalchemy import func, select

from servers.api.accounts import create_user
from servers.api.deps import AdminUser, SessionDep, require_admin
from servers.api.models import Role, User, utcnow
from servers.api.schemas import UserCreateIn, UserOut, UserUpdateIn

router = APIRouter(prefix="/users", tags=["users"], dependencies=[Depends(require_admin)])


def _user(session: SessionDep, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"No user {user_id}")
    return user


def _keep_an_admin(session: SessionDep, user: User) -> None:
    """Refuse a change that would leave no active admin (nobody could manage the system any more)."""
    admins = session.scalar(select(func.count()).select_from(User).where(User.role == Role.admin, User.is_active))
    if user.role == Role.admin and user.is_active and admins <= 1:
        raise HTTPException(status.HTTP_409_CONFLICT, "This is the last active admin; promote another one first")


@router.get("")
def list_users(
    session: SessionDep,
    role: Role | None = None,
    search: str | None = Query(None, max_length=200, description="part of the e-mail or name"),
    offset: int = Query(0, ge=0),
    limit: int = Query(100, ge=1, le=500),
) -> list[UserOut]:
    query = select(User).order_by(User.created_at, User.id)
    if role is not None:
        query = query.where(User.role == role)
    if search:
        pattern = f"%{search.lower()}%"
        query = query.where(func.lower(User.email).like(pattern) | func.lower(User.full_name).like(pattern))
    return [UserOut.model_validate(user) for user in session.scalars(query.offset(offset).limit(limit))]


@router.post("", status_code=status.HTTP_201_CREATED)
def create(body: UserCreateIn, session: SessionDep) -> UserOut:
    return UserOut.model_validate(create_user(session, body.email, body.password, body.full_name, role=body.role))


@router.get("/{user_id}")
def get_user(user_id: str, session: SessionDep) -> UserOut:
    return UserOut.model_validate(_user(session, user_id))


@router.patch("/{user_id}")
def update_user(user_id: str, body: UserUpdateIn, session: SessionDep) -> UserOut:
    """Change the name, the role, or activate/deactivate (a deactivated user's tokens stop working)."""
    user = _user(session, user_id)
    if (body.role is not None and body.role != Role.admin) or body.is_active is False:
        _keep_an_admin(session, user)
    if body.full_name is not None:
        user.full_name = body.full_name
    if body.role is not None and body.role != user.role:
        user.role = body.role
        user.tokens_valid_after = utcnow()  # tokens carry the role: the old ones go
    if body.is_active is not None:
        user.is_active = body.is_active
    session.commit()
    return UserOut.model_validate(user)


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_user(user_id: str, session: SessionDep, admin: AdminUser) -> None:
    """Delete the account with its conversations (their memory on the RAG server expires with its TTL)."""
    user = _user(session, user_id)
    if user.id == admin.id:
        raise HTTPException(status.HTTP_409_CONFLICT, "Admins cannot delete their own account")
    _keep_an_admin(session, user)
    session.delete(user)
    session.commit()
