"""Delivery events of outbound messages: record (once per dedupe key), list with filters, and
the counts behind `GET /v1/delivery/metrics`. Every read carries the caller's TenantScope."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.base import new_id
from store.models import DeliveryEvent
from store.pagination import Page, paginate
from store.scope import TenantScope

EVENT_TYPES = (
    "queued", "awaiting_approval", "scheduled", "sent", "delivered", "deferred", "bounced",
    "complained", "failed", "suppressed", "canceled",
)  # fmt: skip


async def record(
    session: AsyncSession,
    scope: TenantScope,
    *,
    message_id: str,
    inbox_id: str,
    type: str,  # noqa: A002 (the delivery event's type, as in the API)
    recipient: str | None = None,
    detail: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
) -> None:
    """Append one delivery event. With `dedupe_key` (e.g. an activity's attempt id), a retry
    that records the same key again is a no-op, so retried activities never double-count."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown delivery event type {type!r}")
    if dedupe_key is not None:
        existing = await session.scalar(
            select(DeliveryEvent.id).where(
                DeliveryEvent.message_id == message_id, DeliveryEvent.dedupe_key == dedupe_key
            )
        )
        if existing is not None:
            return
    session.add(
        DeliveryEvent(
            id=new_id("dev"), org_id=scope.org_id, inbox_id=inbox_id, message_id=message_id,
            type=type, recipient=recipient.lower() if recipient else None,
            detail=detail or {}, dedupe_key=dedupe_key,
        )  # fmt: skip
    )
    await session.flush()


async def list_events(
    session: AsyncSession,
    scope: TenantScope,
    *,
    inbox_id: str | None,
    message_id: str | None,
    type: str | None,  # noqa: A002
    recipient: str | None = None,
    limit: int,
    after: str | None,
) -> Page[DeliveryEvent]:
    stmt = select(DeliveryEvent).where(
        scope.owns_inbox_column(DeliveryEvent.org_id, DeliveryEvent.inbox_id)
    )
    if inbox_id is not None:
        stmt = stmt.where(DeliveryEvent.inbox_id == inbox_id)
    if message_id is not None:
        stmt = stmt.where(DeliveryEvent.message_id == message_id)
    if type is not None:
        stmt = stmt.where(DeliveryEvent.type == type)
    if recipient is not None:
        stmt = stmt.where(DeliveryEvent.recipient == recipient.lower())
    return await paginate(session, stmt, DeliveryEvent.id, limit=limit, after=after)


async def counts(
    session: AsyncSession, scope: TenantScope, *, since: datetime, inbox_id: str | None
) -> tuple[dict[str, int], dict[str, int]]:
    """(events per type, distinct messages per type) since `since`."""
    stmt = select(
        DeliveryEvent.type,
        func.count(DeliveryEvent.id),
        func.count(func.distinct(DeliveryEvent.message_id)),
    ).where(
        scope.owns_inbox_column(DeliveryEvent.org_id, DeliveryEvent.inbox_id),
        DeliveryEvent.created_at >= since,
    )
    if inbox_id is not None:
        stmt = stmt.where(DeliveryEvent.inbox_id == inbox_id)
    rows = (await session.execute(stmt.group_by(DeliveryEvent.type))).all()
    events = {t: 0 for t in EVENT_TYPES}
    messages = {t: 0 for t in EVENT_TYPES}
    for type_, n, distinct in rows:
        events[type_] = int(n)
        messages[type_] = int(distinct)
    return events, messages


async def exists(
    session: AsyncSession, *, message_id: str, type: str, recipient: str | None  # noqa: A002
) -> bool:
    stmt = select(DeliveryEvent.id).where(
        DeliveryEvent.message_id == message_id, DeliveryEvent.type == type
    )
    if recipient is not None:
        stmt = stmt.where(DeliveryEvent.recipient == recipient.lower())
    return (await session.scalar(stmt.limit(1))) is not None
