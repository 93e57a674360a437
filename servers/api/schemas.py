"""Request and response bodies of the API server."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from servers.api.models import Role
from servers.api.security import password_problem

# The RAG server's bodies the API server passes on unchanged (re-exported for the routes).
from servers.rag.schemas import JobAccepted as JobAccepted
from servers.rag.schemas import MaterialOut as RagMaterialOut
from servers.rag.schemas import Source as Source


def _checked_password(value: str) -> str:
    problem = password_problem(value)
    if problem:
        raise ValueError(problem)
    return value


class NewPassword(BaseModel):
    @field_validator("password", "new_password", check_fields=False)
    @classmethod
    def _password_rules(cls, value: str) -> str:
        return _checked_password(value)


class RegisterIn(NewPassword):
    email: EmailStr
    password: str = Field(..., description="8 characters to 72 bytes")
    full_name: str = Field("", max_length=200)


class UserCreateIn(RegisterIn):
    role: Role = Role.student


class UserUpdateIn(BaseModel):
    full_name: str | None = Field(None, max_length=200)
    role: Role | None = None
    is_active: bool | None = None


class MeUpdateIn(BaseModel):
    full_name: str = Field(..., max_length=200)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str
    full_name: str
    role: Role
    is_active: bool
    created_at: datetime


class TokenOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds the access token is valid")


class RefreshIn(BaseModel):
    refresh_token: str = Field(..., min_length=1, max_length=4000)


class LogoutIn(BaseModel):
    refresh_token: str | None = Field(None, max_length=4000)


class ChangePasswordIn(NewPassword):
    current_password: str = Field(..., max_length=1000)
    new_password: str


class ResetRequestIn(BaseModel):
    email: EmailStr


class ResetConfirmIn(NewPassword):
    token: str = Field(..., min_length=1, max_length=4000)
    new_password: str


class MessageOut(BaseModel):
    detail: str


class ChatIn(BaseModel):
    message: str = Field(..., min_length=1, max_length=4000, description="the student's question")
    material_ids: list[str] | None = Field(None, max_length=100, description="answer only from these materials")


class ChatAuthIn(ChatIn):
    conversation_id: str | None = Field(None, max_length=64, description="continue this conversation; none starts one")


class ChatOut(BaseModel):
    answer: str
    sources: list[Source]


class ChatAuthOut(ChatOut):
    conversation_id: str
    message_id: str


class ConversationIn(BaseModel):
    title: str = Field("Nova conversa", min_length=1, max_length=200)


class ConversationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    title: str
    created_at: datetime
    updated_at: datetime


class ChatMessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    role: Literal["user", "assistant"]
    content: str
    sources: list[Source]
    created_at: datetime


class ConversationDetailOut(ConversationOut):
    messages: list[ChatMessageOut]


class MaterialOut(RagMaterialOut):
    uploaded_by: str | None = Field(None, description="the account that uploaded it through this server")


class UploadOut(BaseModel):
    materials: list[MaterialOut]
    job_id: str | None
