"""Messages: the ingress insert, pipeline updates, and scoped reads for the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.base import new_id, utcnow
from store.errors import NotFound
from store.models import Attachment, Inbox, Message
from store.pagination import Page, paginate
from store.scope import TenantScope


@dataclass(frozen=True)
class InboundEnvelope:
    raw_sha256: str
    size: int
    envelope_from: str
    envelope_to: list[str]
    # Cheap header peek done by the ingress so the message is listable before the pipeline runs.
    subject: str = ""
    from_address: str = ""
    from_name: str = ""
    message_id_header: str | None = None


def insert_inbound(session: AsyncSession, inbox: Inbox, env: InboundEnvelope) -> Message:
    message = Message(
        id=new_id("msg"),
        org_id=inbox.org_id,
        inbox_id=inbox.id,
        direction="inbound",
        status="received",
        pipeline_state="pending",
        subject=env.subject,
        from_address=env.from_address,
        from_name=env.from_name,
        message_id_header=env.message_id_header,
        envelope_from=env.envelope_from,
        envelope_to=env.envelope_to,
        size=env.size,
        raw_sha256=env.raw_sha256,
        received_at=utcnow(),
    )
    session.add(message)
    return message


async def set_pipeline_state(
    session: AsyncSession, message_id: str, state: str, *, workflow_id: str | None = None
) -> None:
    values: dict[str, Any] = {"pipeline_state": state}
    if workflow_id is not None:
        values["workflow_id"] = workflow_id
    await session.execute(update(Message).where(Message.id == message_id).values(**values))


async def mark_started(session: AsyncSession, message_id: str, workflow_id: str) -> None:
    """pending -> started; never moves a pipeline that already progressed back."""
    await session.execute(
        update(Message)
        .where(Message.id == message_id, Message.pipeline_state == "pending")
        .values(pipeline_state="started", workflow_id=workflow_id)
    )


async def get_for_pipeline(session: AsyncSession, message_id: str) -> Message:
    """Unscoped read for worker activities, which act for the system, not for a tenant."""
    message = await session.get(Message, message_id)
    if message is None:
        raise NotFound("message not found")
    return message


async def list_pending(session: AsyncSession, *, older_than: timedelta, limit: int) -> list[str]:
    cutoff = utcnow() - older_than
    stmt = (
        select(Message.id)
        .where(Message.pipeline_state == "pending", Message.created_at <= cutoff)
        .order_by(Message.id)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


@dataclass(frozen=True)
class MessageFilter:
    direction: str | None = None
    since: datetime | None = None


async def list_for_inbox(
    session: AsyncSession,
    scope: TenantScope,
    inbox_id: str,
    flt: MessageFilter,
    *,
    limit: int,
    after: str | None,
) -> Page[Message]:
    stmt = select(Message).where(
        Message.inbox_id == inbox_id, scope.owns_inbox_column(Message.org_id, Message.inbox_id)
    )
    if flt.direction:
        stmt = stmt.where(Message.direction == flt.direction)
    if flt.since:
        stmt = stmt.where(Message.received_at >= flt.since)
    return await paginate(session, stmt, Message.id, limit=limit, after=after)


async def get_message(session: AsyncSession, scope: TenantScope, message_id: str) -> Message:
    message = await session.scalar(
        select(Message).where(
            Message.id == message_id, scope.owns_inbox_column(Message.org_id, Message.inbox_id)
        )
    )
    if message is None:
        raise NotFound("message not found", field="message_id")
    return message


async def attachments_of(session: AsyncSession, message: Message) -> list[Attachment]:
    stmt = select(Attachment).where(Attachment.message_id == message.id).order_by(Attachment.id)
    return list((await session.scalars(stmt)).all())
