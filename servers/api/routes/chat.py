"""Questions to the assistant: `/chat` (one question, no memory, anonymous allowed) and `/chat-auth`
(a student's conversations, remembered by the RAG server under a thread only their owner reaches)."""

from __future__ import annotations

from contextlib import AsyncExitStack

from fastapi import APIRouter, Depends, HTTPException, Request, status
from langchain_core.messages import HumanMessage
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from core.kv import LockTimeout
from servers.api.deps import CurrentUser, KVDep, RagDep, SessionDep
from servers.api.limits import chat_limit, signed_in_chat_limit
from servers.api.models import Conversation, Message, User, utcnow
from servers.api.schemas import ChatAuthIn, ChatAuthOut, ChatIn, ChatOut
from servers.api.streaming import SSE_RESPONSES, collect, stream, wants_stream

router = APIRouter(tags=["chat"])
TITLE_LENGTH = 60
# A turn waits this long for the previous message of its conversation before giving up with 409.
TURN_WAIT_SECONDS = 120
TURN_LEASE_SECONDS = 600


@router.post("/chat", responses=SSE_RESPONSES, response_model=ChatOut, dependencies=[Depends(chat_limit)])
async def chat(body: ChatIn, request: Request, rag: RagDep):
    """Answer one question from the materials, without memory. Limited per address for anonymous callers,
    per user (a minute and a day) for signed-in ones."""
    turn = rag.turn("/ask", {"question": body.message, "material_ids": body.material_ids})

    async def finish(answer: str, sources: list) -> dict:
        return {"answer": answer, "sources": sources}

    if wants_stream(request):
        return await stream(turn, finish, AsyncExitStack())
    return ChatOut(**await collect(turn, finish))


def owned_conversation(session: Session, user: User, conversation_id: str) -> Conversation:
    """The user's conversation; another user's is reported as absent, not as forbidden."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.user_id != user.id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"No conversation {conversation_id}")
    return conversation


def _save_turn(sessions, conversation_id: str, question: str, answer: str, sources: list) -> str:
    with sessions() as session:
        conversation = session.get(Conversation, conversation_id)
        if conversation is None:
            raise HTTPException(status.HTTP_410_GONE, "The conversation was deleted while it was being answered")
        position = session.scalar(select(func.coalesce(func.max(Message.position), 0))
                                  .where(Message.conversation_id == conversation_id))
        reply = Message(conversation_id=conversation_id, position=position + 2, role="assistant",
                        content=answer, sources=sources)
        session.add_all([Message(conversation_id=conversation_id, position=position + 1, role="user",
                                 content=question), reply])
        conversation.updated_at = utcnow()
        session.commit()
        return reply.id


def _open_conversation(session: Session, user: User, conversation_id: str | None, message: str) -> tuple[str, str]:
    """(id, thread id) of the conversation to answer in: the user's own, or a new one titled after the message.
    The session is closed: an answer may stream for minutes, and its connection goes back to the pool now."""
    try:
        if conversation_id:
            conversation = owned_conversation(session, user, conversation_id)
        else:
            conversation = Conversation(user_id=user.id, title=" ".join(message.split())[:TITLE_LENGTH])
            session.add(conversation)
            session.commit()
        return conversation.id, conversation.thread_id
    finally:
        session.close()


@router.post("/chat-auth", responses=SSE_RESPONSES, response_model=ChatAuthOut,
             dependencies=[Depends(signed_in_chat_limit)])
async def chat_auth(body: ChatAuthIn, request: Request, user: CurrentUser, session: SessionDep,
                    rag: RagDep, kv: KVDep):
    """Ask within a conversation (a new one when `conversation_id` is absent); follow-ups use its memory.
    Limited per user (a minute and a day, shared with /chat).

    Messages sent at once to one conversation are answered one after the other."""
    conversation_id, thread_id = await run_in_threadpool(_open_conversation, session, user, body.conversation_id,
                                                         body.message)

    turn_lock = AsyncExitStack()
    try:
        await turn_lock.enter_async_context(kv.lock(kv.key("conversation-turn", conversation_id),
                                                    lease_seconds=TURN_LEASE_SECONDS, wait_seconds=TURN_WAIT_SECONDS))
    except LockTimeout:
        raise HTTPException(status.HTTP_409_CONFLICT, "The previous message of this conversation is still "
                                                      "being answered; try again") from None
    turn = rag.turn("/chat", {"messages": [HumanMessage(body.message)], "material_ids": body.material_ids},
                    thread_id)
    sessions = request.app.state.sessions

    async def finish(answer: str, sources: list) -> dict:
        message_id = await run_in_threadpool(_save_turn, sessions, conversation_id, body.message, answer, sources)
        return {"answer": answer, "sources": sources, "conversation_id": conversation_id, "message_id": message_id}

    if wants_stream(request):
        return await stream(turn, finish, turn_lock)
    async with turn_lock:
        return ChatAuthOut(**await collect(turn, finish))
