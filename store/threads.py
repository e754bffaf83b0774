"""Threading: which conversation a message belongs to, per inbox.

1. References first: a message whose In-Reply-To/References name a message of this inbox
   joins that message's thread; a parent arriving after its reply joins the reply's thread.
2. Subject fallback, only for replies (`Re:`, `AW:`, `SV:` …) without usable references, when
   the normalized subject is specific (never "Question", "Hello" …), an existing thread with
   that subject was active within the window, and the sender took part in it. Strangers who
   merely share a subject are never joined.
3. Otherwise a new thread; a forward without references always starts one.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from mailparse.subjects import (
    is_forward_subject,
    is_generic_subject,
    is_reply_subject,
    normalize_subject,
)
from store.base import new_id
from store.errors import NotFound
from store.models import Inbox, Message, Thread
from store.pagination import Page, paginate
from store.scope import TenantScope

SUBJECT_WINDOW = timedelta(days=30)
MAX_PARTICIPANTS = 50
MAX_REFERENCES = 50


def _participants(msg: Message) -> list[str]:
    emails = [msg.from_address] + [a.get("email", "") for a in (msg.to or []) + (msg.cc or [])]
    return [e.lower() for e in emails if e]


async def _by_references(session: AsyncSession, msg: Message) -> str | None:
    refs = [r for r in ([msg.in_reply_to] if msg.in_reply_to else []) + list(msg.references or []) if r]
    refs = refs[-MAX_REFERENCES:]
    conditions = []
    if refs:
        conditions.append(Message.message_id_header.in_(refs))
    if msg.message_id_header:  # out of order: a reply to this message arrived first
        conditions.append(Message.in_reply_to == msg.message_id_header)
    if not conditions:
        return None
    return await session.scalar(
        select(Message.thread_id)
        .where(Message.inbox_id == msg.inbox_id, Message.id != msg.id,
               Message.thread_id.is_not(None), or_(*conditions))
        .order_by(Message.id.desc()).limit(1)
    )  # fmt: skip


async def _by_subject(session: AsyncSession, msg: Message, normalized: str) -> str | None:
    if not is_reply_subject(msg.subject) or is_forward_subject(msg.subject):
        return None
    if is_generic_subject(msg.subject) or not normalized:
        return None
    since = msg.received_at - SUBJECT_WINDOW
    candidates = await session.scalars(
        select(Thread)
        .where(Thread.inbox_id == msg.inbox_id, Thread.normalized_subject == normalized[:500],
               Thread.last_message_at >= since)
        .order_by(Thread.last_message_at.desc()).limit(5)
    )  # fmt: skip
    sender = msg.from_address.lower()
    for thread in candidates:
        if sender and sender in thread.participants:
            return thread.id
    return None


async def assign_thread(session: AsyncSession, msg: Message) -> tuple[Thread, bool]:
    """Put `msg` in a thread (idempotent: a message already threaded keeps its thread)."""
    # Serialise threading per inbox (PostgreSQL row lock; SQLite serialises writers anyway),
    # so two messages of one new conversation processed at once do not open two threads.
    # FOR NO KEY UPDATE, not FOR UPDATE: the message row's foreign key already holds a KEY SHARE
    # lock on the inbox, which FOR UPDATE would wait on — two pipelines of one inbox deadlocked.
    await session.execute(
        select(Inbox.id).where(Inbox.id == msg.inbox_id).with_for_update(key_share=True)
    )
    normalized = normalize_subject(msg.subject or "")
    if msg.thread_id:
        thread = await session.get(Thread, msg.thread_id)
        if thread is not None:
            return thread, False
    thread_id = await _by_references(session, msg) or await _by_subject(session, msg, normalized)
    thread = await session.get(Thread, thread_id) if thread_id else None
    if thread is None:
        # Created complete (one INSERT, no UPDATE after it).
        thread = Thread(
            id=new_id("thr"), org_id=msg.org_id, inbox_id=msg.inbox_id, subject=msg.subject or "",
            normalized_subject=normalized[:500],
            participants=list(dict.fromkeys(_participants(msg)))[:MAX_PARTICIPANTS],
            message_count=1, last_message_at=msg.received_at, snippet=msg.snippet,
            last_direction=msg.direction, has_attachments=msg.has_attachments,
        )  # fmt: skip
        session.add(thread)
        # No ORM relationship orders these writes: insert the thread before the message points at it.
        await session.flush([thread])
        msg.thread_id = thread.id
        await session.flush()
        return thread, True
    msg.thread_id = thread.id
    thread.message_count += 1
    merged = list(dict.fromkeys(thread.participants + _participants(msg)))
    thread.participants = merged[:MAX_PARTICIPANTS]
    thread.has_attachments = thread.has_attachments or msg.has_attachments
    if msg.received_at >= thread.last_message_at:
        thread.last_message_at = msg.received_at
        thread.snippet = msg.snippet
        thread.last_direction = msg.direction
    await session.flush()
    return thread, False


async def list_threads(
    session: AsyncSession, scope: TenantScope, inbox_id: str, *, limit: int, after: str | None,
    ascending: bool = False,
) -> Page[Thread]:  # fmt: skip
    stmt = select(Thread).where(
        Thread.inbox_id == inbox_id, scope.owns_inbox_column(Thread.org_id, Thread.inbox_id)
    )
    return await paginate(session, stmt, Thread.id, limit=limit, after=after, ascending=ascending)


async def get_thread(session: AsyncSession, scope: TenantScope, thread_id: str) -> Thread:
    thread = await session.scalar(
        select(Thread).where(
            Thread.id == thread_id, scope.owns_inbox_column(Thread.org_id, Thread.inbox_id)
        )
    )
    if thread is None:
        raise NotFound("thread not found", field="thread_id")
    return thread


async def messages_of(session: AsyncSession, thread: Thread) -> list[Message]:
    stmt = select(Message).where(Message.thread_id == thread.id).order_by(Message.id)
    return list((await session.scalars(stmt)).all())
