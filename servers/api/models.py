"""Tables of the API server: users, their conversations and messages, and the uploads it forwarded."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, DateTime, Enum, ForeignKey, Integer, String, Text, TypeDecorator, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class Role(StrEnum):
    admin = "admin"  # everything, users and maintenance included
    staff = "staff"  # course staff: materials and processing
    student = "student"  # asks questions


class UtcDateTime(TypeDecorator):
    """A moment in UTC; SQLite stores it without its zone, so it is put back when read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime}


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    hashed_password: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16), default=Role.student)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Tokens issued before this instant are refused (password changed or reset).
    tokens_valid_after: Mapped[datetime] = mapped_column(default=utcnow)

    conversations: Mapped[list[Conversation]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    user: Mapped[User] = relationship(back_populates="conversations")
    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", cascade="all, delete-orphan", passive_deletes=True, order_by="Message.position"
    )

    @property
    def thread_id(self) -> str:
        """The RAG server's memory of this conversation (sent as X-Thread-Id); only its owner reaches it."""
        return f"{self.user_id}.{self.id}"


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("conversation_id", "position"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))  # user | assistant
    content: Mapped[str] = mapped_column(Text)
    sources: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class Upload(Base):
    """A material that came in through this server: who sent it and its content hash (duplicates are refused)."""

    __tablename__ = "uploads"

    material_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    file_name: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class DriveFolder(Base):
    """A Google Drive folder whose files (subfolders included) are kept in the knowledge base."""

    __tablename__ = "drive_folders"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)  # the Drive folder id
    name: Mapped[str] = mapped_column(String(500))
    drive_id: Mapped[str | None] = mapped_column(String(200))  # the shared drive holding it, if any
    added_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class DriveFile(Base):
    """A Drive file the sync has sent to the knowledge base (or tried to): the version it sent, and why not."""

    __tablename__ = "drive_files"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)  # the Drive file id
    folder_id: Mapped[str] = mapped_column(String(200), index=True)  # the watched folder it was found under
    shortcut_id: Mapped[str | None] = mapped_column(String(200), index=True)  # reached through this shortcut
    name: Mapped[str] = mapped_column(String(500))
    mime_type: Mapped[str] = mapped_column(String(200))
    revision: Mapped[str | None] = mapped_column(String(100))  # md5 or version last sent (None: not sent yet)
    material_id: Mapped[str | None] = mapped_column(String(64))
    web_link: Mapped[str | None] = mapped_column(String(2048))
    error: Mapped[str | None] = mapped_column(Text)
    synced_at: Mapped[datetime] = mapped_column(default=utcnow)


class DriveState(Base):
    """The sync's bookkeeping: page tokens per drive, folders seen, the last run."""

    __tablename__ = "drive_state"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON)
