"""Outbound mail rows: idempotency keys, the message + send + recipients of a new send,
recipient hand-off state, and the lookups the API and the OutboundMail activities make."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from store.base import new_id, utcnow
from store.errors import NotFound
from store.models import (
    Attachment,
    IdempotencyKey,
    Inbox,
    Message,
    OutboundRecipient,
    OutboundSend,
    Thread,
)
from store.scope import TenantScope

# A first request that holds its key longer than this died: a retry may take the key over.
IN_FLIGHT_TAKEOVER = timedelta(seconds=60)
FINAL_STATUSES = frozenset({"sent", "captured", "canceled", "failed", "suppressed"})
OPEN_RECIPIENT = ("pending", "deferred")
# `messages.pipeline_state` of an outbound message: committed but OutboundMail not known to
# have started (the API's start failed, or the process died in between) -> started. The
# workflow's first activity and the reconciler (outbound/reconciler.py) set STARTED.
PENDING_START, STARTED = "outbound_pending", "outbound"


@dataclass(frozen=True)
class KeyClaim:
    outcome: str  # new | replay | mismatch | in_flight
    row_id: str
    message_id: str | None = None


async def claim_key(session: AsyncSession, *, org_id: str, api_key_id: str, key: str,
                    operation: str, request_hash: str) -> KeyClaim:  # fmt: skip
    """Take `key` for this request (committed by the caller before any work)."""
    for _ in range(2):
        row = await session.scalar(
            select(IdempotencyKey).where(IdempotencyKey.api_key_id == api_key_id,
                                         IdempotencyKey.key == key).with_for_update()
        )  # fmt: skip
        if row is not None:
            if row.request_hash != request_hash or row.operation != operation:
                return KeyClaim("mismatch", row.id, row.message_id)
            if row.message_id is not None:
                return KeyClaim("replay", row.id, row.message_id)
            if utcnow() - row.created_at < IN_FLIGHT_TAKEOVER:
                return KeyClaim("in_flight", row.id)
            row.created_at = utcnow()
            return KeyClaim("new", row.id)
        row = IdempotencyKey(id=new_id("idk"), org_id=org_id, api_key_id=api_key_id, key=key,
                             operation=operation, request_hash=request_hash)  # fmt: skip
        try:
            async with session.begin_nested():
                session.add(row)
            return KeyClaim("new", row.id)
        except IntegrityError:
            continue  # a concurrent request inserted it first: read theirs
    raise RuntimeError("idempotency key claim did not settle")


async def release_key(session: AsyncSession, row_id: str) -> None:
    await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row_id,
                                                       IdempotencyKey.message_id.is_(None)))  # fmt: skip


async def complete_key(session: AsyncSession, row_id: str, message_id: str) -> None:
    await session.execute(
        update(IdempotencyKey).where(IdempotencyKey.id == row_id).values(message_id=message_id)
    )


async def usable_attachments(session: AsyncSession, scope: TenantScope,
                             ids: list[str]) -> list[Attachment]:  # fmt: skip
    """Uploads of this organization, or attachments of messages the scope can see; in order."""
    found: dict[str, Attachment] = {}
    if ids:
        uploads = await session.scalars(select(Attachment).where(
            Attachment.id.in_(ids), Attachment.org_id == scope.org_id,
            Attachment.message_id.is_(None)))  # fmt: skip
        found.update({a.id: a for a in uploads})
        attached = await session.scalars(
            select(Attachment).join(Message, Message.id == Attachment.message_id).where(
                Attachment.id.in_(ids), scope.owns_inbox_column(Message.org_id, Message.inbox_id)))
        found.update({a.id: a for a in attached})
    for i, att_id in enumerate(ids):
        if att_id not in found:
            raise NotFound(f"attachment {att_id[:60]!r} not found", field=f"attachments[{i}]")
    return [found[i] for i in ids]


async def last_message_of_thread(session: AsyncSession, thread: Thread) -> Message | None:
    return await session.scalar(
        select(Message).where(Message.thread_id == thread.id,
                              Message.message_id_header.is_not(None))
        .order_by(Message.id.desc()).limit(1)
    )  # fmt: skip


@dataclass
class NewOutbound:
    inbox: Inbox
    message_id_header: str
    subject: str
    from_name: str
    to: list[tuple[str, str]]
    cc: list[tuple[str, str]]
    bcc: list[tuple[str, str]]
    reply_to: list[tuple[str, str]]
    text: str | None
    html: str | None
    raw_sha256: str
    size: int
    date: datetime
    status: str
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    send: dict[str, Any] = field(default_factory=dict)  # OutboundSend columns


def _addrs(items: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": n, "email": e} for n, e in items]


def _snippet(text: str | None, html: str | None) -> str:
    return " ".join((text or html or "").split())[:200]


async def insert_outbound(session: AsyncSession, new: NewOutbound) -> Message:
    """The message row (threaded), its send, recipients and attachment rows, in one go."""
    from store import threads

    rcpts = new.to + new.cc + new.bcc
    msg = Message(
        id=new_id("msg"), org_id=new.inbox.org_id, inbox_id=new.inbox.id, direction="outbound",
        status=new.status, pipeline_state=PENDING_START, message_id_header=new.message_id_header,
        in_reply_to=new.in_reply_to, references=new.references, subject=new.subject,
        from_address=new.inbox.address, from_name=new.from_name, to=_addrs(new.to),
        cc=_addrs(new.cc), bcc=_addrs(new.bcc), reply_to=_addrs(new.reply_to),
        envelope_from=new.inbox.address, envelope_to=[e for _, e in rcpts],
        headers=[list(h) for h in new.headers], text=new.text, html=new.html,
        stripped_text=new.text, snippet=_snippet(new.text, new.html), size=new.size,
        raw_sha256=new.raw_sha256, has_attachments=bool(new.attachments), labels=["sent"],
        sent_at=new.date, received_at=new.date,
    )  # fmt: skip
    from workflows import ids

    msg.workflow_id = ids.outbound(msg.id)
    session.add(msg)
    await session.flush()
    # Ids made in one millisecond sort by their random part: sort them so that listing the
    # attachments by id gives the order they were composed in.
    att_ids = sorted(new_id("att") for _ in new.attachments)
    for att, att_id in zip(new.attachments, att_ids, strict=True):
        session.add(Attachment(id=att_id, org_id=msg.org_id, message_id=msg.id,
                               filename=att.filename, content_type=att.content_type,
                               size=att.size, sha256=att.sha256))  # fmt: skip
    session.add(OutboundSend(message_id=msg.id, org_id=msg.org_id, inbox_id=msg.inbox_id,
                             from_domain=new.inbox.address.rpartition("@")[2], **new.send))
    for kind, items in (("to", new.to), ("cc", new.cc), ("bcc", new.bcc)):
        for _, email in items:
            session.add(OutboundRecipient(id=new_id("orc"), message_id=msg.id,
                                          address=email, kind=kind))  # fmt: skip
    await session.flush()
    await threads.assign_thread(session, msg)
    return msg


async def get_send(session: AsyncSession, message_id: str) -> OutboundSend:
    send = await session.get(OutboundSend, message_id)
    if send is None:
        raise NotFound("not an outbound message", field="message_id")
    return send


async def recipients(session: AsyncSession, message_id: str,
                     statuses: tuple[str, ...] | None = None) -> list[OutboundRecipient]:  # fmt: skip
    stmt = select(OutboundRecipient).where(OutboundRecipient.message_id == message_id)
    if statuses:
        stmt = stmt.where(OutboundRecipient.status.in_(statuses))
    return list((await session.scalars(stmt.order_by(OutboundRecipient.id))).all())


async def set_recipients(session: AsyncSession, message_id: str, addresses: list[str], *,
                         status: str, route: str | None = None, code: int | None = None,
                         response: str | None = None, only_open: bool = True) -> None:  # fmt: skip
    if not addresses:
        return
    values: dict[str, Any] = {"status": status, "updated_at": utcnow()}
    if route is not None:
        values["route"] = route
    if code is not None:
        values["last_code"], values["last_response"] = code, (response or "")[:500]
    if status in ("accepted", "captured", "local", "in_doubt"):
        values["accepted_at"] = utcnow()
    stmt = update(OutboundRecipient).where(OutboundRecipient.message_id == message_id,
                                           OutboundRecipient.address.in_(addresses))  # fmt: skip
    if only_open:
        stmt = stmt.where(OutboundRecipient.status.in_(OPEN_RECIPIENT + ("in_flight",)))
    await session.execute(stmt.values(**values))


async def set_status(session: AsyncSession, message_id: str, status: str) -> Message:
    msg = await session.get(Message, message_id)
    if msg is None:
        raise NotFound("message not found", field="message_id")
    msg.status = status
    return msg


async def outbound_of(session: AsyncSession, scope: TenantScope,
                      message_id: str) -> tuple[Message, OutboundSend]:  # fmt: skip
    """A visible outbound message and its send (404 otherwise)."""
    row = (await session.execute(
        select(Message, OutboundSend).join(OutboundSend, OutboundSend.message_id == Message.id)
        .where(Message.id == message_id, scope.owns_inbox_column(Message.org_id, Message.inbox_id))
    )).first()  # fmt: skip
    if row is None:
        raise NotFound("outbound message not found", field="message_id")
    return row[0], row[1]


async def waiting_conditional(session: AsyncSession, thread_id: str) -> list[str]:
    """Outbound messages of a thread that wait to send unless a reply arrives first."""
    stmt = (select(Message.id).join(OutboundSend, OutboundSend.message_id == Message.id)
            .where(Message.thread_id == thread_id, OutboundSend.unless_replied.is_(True),
                   Message.status.in_(("scheduled", "queued", "awaiting_approval"))))  # fmt: skip
    return list((await session.scalars(stmt)).all())


async def list_unstarted(session: AsyncSession, *, older_than: timedelta, limit: int) -> list[str]:
    """Outbound messages committed at least `older_than` ago whose workflow is not known to
    have started (for the reconciler; unscoped: it acts for the system)."""
    stmt = (select(Message.id)
            .where(Message.pipeline_state == PENDING_START, Message.direction == "outbound",
                   Message.status.not_in(FINAL_STATUSES),
                   Message.created_at <= utcnow() - older_than)
            .order_by(Message.id).limit(limit))  # fmt: skip
    return list((await session.scalars(stmt)).all())


async def mark_started(session: AsyncSession, message_ids: list[str]) -> None:
    if message_ids:
        await session.execute(
            update(Message).where(Message.id.in_(message_ids), Message.pipeline_state == PENDING_START)
            .values(pipeline_state=STARTED)
        )  # fmt: skip
