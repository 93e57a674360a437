"""A user's conversations: create, list, read with history, rename, delete. Only the owner sees one."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Query, status
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from servers.api.deps import CurrentUser, RagDep, SessionDep
from servers.api.models import Conversation, User
from servers.api.rag_client import RagError, RagUnavailable, segment
from servers.api.routes.chat import owned_conversation
from servers.api.schemas import ConversationDetailOut, ConversationIn, ConversationOut

router = APIRouter(prefix="/conversations", tags=["conversations"])
log = logging.getLogger(__name__)


@router.get("")
def list_conversations(user: CurrentUser, session: SessionDep, offset: int = Query(0, ge=0),
                       limit: int = Query(50, ge=1, le=200)) -> list[ConversationOut]:
    query = (select(Conversation).where(Conversation.user_id == user.id)
             .order_by(Conversation.updated_at.desc(), Conversation.id).offset(offset).limit(limit))
    return [ConversationOut.model_validate(conversation) for conversation in session.scalars(query)]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_conversation(body: ConversationIn, user: CurrentUser, session: SessionDep) -> ConversationOut:
    conversation = Conversation(user_id=user.id, title=body.title)
    session.add(conversation)
    session.commit()
    return ConversationOut.model_validate(conversation)


@router.get("/{conversation_id}")
def read_conversation(conversation_id: str, user: CurrentUser, session: SessionDep) -> ConversationDetailOut:
    return ConversationDetailOut.model_validate(owned_conversation(session, user, conversation_id))


@router.patch("/{conversation_id}")
def rename_conversation(conversation_id: str, body: ConversationIn, user: CurrentUser,
                        session: SessionDep) -> ConversationOut:
    conversation = owned_conversation(session, user, conversation_id)
    conversation.title = body.title
    session.commit()
    return ConversationOut.model_validate(conversation)


def _delete_conversation(session: Session, user: User, conversation_id: str) -> str:
    """Delete the user's conversation; returns its thread id (its memory on the RAG server)."""
    conversation = owned_conversation(session, user, conversation_id)
    thread_id = conversation.thread_id
    session.delete(conversation)
    session.commit()
    return thread_id


@router.delete("/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_conversation(conversation_id: str, user: CurrentUser, session: SessionDep, rag: RagDep) -> None:
    """Delete the conversation and its memory on the RAG server."""
    thread_id = await run_in_threadpool(_delete_conversation, session, user, conversation_id)
    try:
        await rag.request("DELETE", f"/threads/{segment(thread_id)}")
    except (RagUnavailable, RagError) as error:  # the history is gone; the memory expires with its TTL
        log.warning("Could not delete the memory of conversation %s: %s", conversation_id, error)
