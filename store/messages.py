"""Messages: the ingress insert, pipeline updates, and scoped reads for the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.inbound import MailSummary
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
    client_ip: str | None = None
    helo: str | None = None


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
        client_ip=env.client_ip,
        helo=env.helo,
        size=env.size,
        raw_sha256=env.raw_sha256,
        received_at=utcnow(),
    )
    session.add(message)
    return message


@dataclass(frozen=True)
class Inserted:
    message_id: str
    org_id: str
    inbox_id: str
    received_at: datetime
    has_waits: bool  # the inbox had an active wait when the row was written


async def insert_inbound_core(
    session: AsyncSession, inbox_id: str, env: InboundEnvelope
) -> Inserted | None:
    """The ingress's insert as one Core statement: INSERT ... SELECT from the inbox row, so an
    inbox deleted since RCPT gets no message (None) without a separate read. RETURNING also
    says whether the inbox has an active wait (the ingress then wakes OTP waits itself)."""
    from sqlalchemy import exists, literal

    from store.models import Wait

    msg_id = new_id("msg")
    now = utcnow()
    values: dict[str, Any] = {
        "id": msg_id, "direction": "inbound", "status": "received", "pipeline_state": "pending",
        "subject": env.subject, "from_address": env.from_address, "from_name": env.from_name,
        "message_id_header": env.message_id_header, "envelope_from": env.envelope_from,
        "envelope_to": env.envelope_to, "client_ip": env.client_ip, "helo": env.helo,
        "size": env.size, "raw_sha256": env.raw_sha256, "received_at": now, "created_at": now,
        "updated_at": now,
    }  # fmt: skip
    cols = Message.__table__.c
    names = ["org_id", "inbox_id", *values]
    select_list = [Inbox.org_id, Inbox.id, *(literal(v, type_=cols[k].type) for k, v in values.items())]
    stmt = (
        Message.__table__.insert()
        .from_select(names, select(*select_list).where(Inbox.id == inbox_id),
                     include_defaults=True)
        .returning(cols.id, cols.org_id, cols.received_at,
                   exists().where(Wait.inbox_id == inbox_id, Wait.status == "active"))
    )  # fmt: skip
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    return Inserted(message_id=row[0], org_id=row[1], inbox_id=inbox_id, received_at=row[2],
                    has_waits=bool(row[3]))  # fmt: skip


async def mark_started_many(session: AsyncSession, ids_and_workflows: dict[str, str]) -> None:
    """pending -> started for a batch handed to Temporal (one statement; the workflow id is
    derived from the message id, so it is passed per row only to keep one source of truth)."""
    if not ids_and_workflows:
        return
    from sqlalchemy import case

    table = Message.__table__
    await session.execute(
        table.update()  # Core: no ORM session synchronisation for a batch
        .where(table.c.id.in_(list(ids_and_workflows)), table.c.pipeline_state == "pending")
        .values(pipeline_state="started",
                workflow_id=case(ids_and_workflows, value=table.c.id))
    )  # fmt: skip


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
    from_: str | None = None
    subject: str | None = None
    category: str | None = None
    unread: bool | None = None
    # Only messages screened with a prompt-injection score at or below this (search issue).
    injection_max_score: float | None = None


def _contains(column: Any, needle: str) -> Any:
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")


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
    if flt.injection_max_score is not None:
        score = Message.analysis["prompt_injection"]["score"].as_float()
        stmt = stmt.where(score.is_not(None), score <= flt.injection_max_score)
    if flt.since:
        stmt = stmt.where(Message.received_at >= flt.since)
    if flt.from_:
        stmt = stmt.where(or_(_contains(Message.from_address, flt.from_),
                              _contains(Message.from_name, flt.from_)))  # fmt: skip
    if flt.subject:
        stmt = stmt.where(_contains(Message.subject, flt.subject))
    if flt.category:
        stmt = stmt.where(Message.category == flt.category)
    if flt.unread is not None:
        stmt = stmt.where(Message.is_read.is_(not flt.unread))
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


def summary_of(m: Message) -> MailSummary:
    codes = (m.extracted or {}).get("otp_codes") or []
    return MailSummary(
        message_id=m.id, org_id=m.org_id, inbox_id=m.inbox_id, thread_id=m.thread_id,
        from_address=m.from_address, from_name=m.from_name, subject=m.subject,
        category=m.category, has_otp=bool(codes), received_at=m.received_at,
        otp_codes=[c["code"] for c in codes],
        code_expiry_seconds=(m.extracted or {}).get("code_expiry_seconds"),
    )  # fmt: skip


async def pipeline_head(session: AsyncSession, message_id: str) -> Any:
    """What the pipeline needs before parsing (one narrow read): raw_sha256, org_id, inbox_id,
    received_at. NotFound when the message was deleted."""
    row = (await session.execute(
        select(Message.raw_sha256, Message.org_id, Message.inbox_id, Message.received_at)
        .where(Message.id == message_id)
    )).first()  # fmt: skip
    if row is None:
        raise NotFound("message not found")
    return row


async def delete_message(session: AsyncSession, msg: Message) -> None:
    """Delete a message; its thread's counters follow. Blobs are content-addressed and shared."""
    from store.models import Thread

    thread_id = msg.thread_id
    await session.execute(delete(Message).where(Message.id == msg.id))
    if thread_id:
        thread = await session.get(Thread, thread_id)
        if thread is not None:
            thread.message_count = max(0, thread.message_count - 1)
            if thread.message_count == 0:
                await session.delete(thread)
