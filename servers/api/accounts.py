"""Account operations shared by the routes, the start-up and the `dnaforca create-admin` command.

They raise domain errors (`AccountExists`); the routes turn those into HTTP answers."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from servers.api.models import Role, User, utcnow
from servers.api.security import hash_password


class AccountExists(ValueError):
    def __init__(self) -> None:
        super().__init__("An account with this e-mail already exists")


def normalize_email(email: str) -> str:
    return email.strip().lower()


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == normalize_email(email)))


def create_user(session: Session, email: str, password: str, full_name: str = "", **fields) -> User:
    if user_by_email(session, email) is not None:
        raise AccountExists
    user = User(email=normalize_email(email), hashed_password=hash_password(password), full_name=full_name, **fields)
    session.add(user)
    try:
        session.commit()
    except IntegrityError:  # the same e-mail registered by a concurrent request
        session.rollback()
        raise AccountExists from None
    return user


def set_password(session: Session, user: User, password: str) -> None:
    """Every token issued before now stops working."""
    user.hashed_password = hash_password(password)
    user.tokens_valid_after = utcnow()
    session.commit()


def ensure_admin(session: Session, email: str, password: str, *, update_existing: bool) -> bool:
    """Create `email` as an active admin; an existing account is promoted (with this password) only when
    `update_existing`. Returns whether anything changed."""
    user = user_by_email(session, email)
    if user is None:
        create_user(session, email, password, "Administrador", role=Role.admin)
        return True
    if not update_existing:
        return False
    user.role, user.is_active = Role.admin, True
    set_password(session, user, password)
    return True
