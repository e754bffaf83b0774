"""Wait rows: created by the API before their workflow starts, read by the pipeline to wake them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.base import new_id, utcnow
from store.errors import NotFound
from store.models import Message, Wait
from store.scope import TenantScope

# Messages a waiter may see: the pipeline has parsed, extracted and threaded them.
VISIBLE_STATES = ("processed", "done")


def create_wait(
    session: AsyncSession, *, org_id: str, inbox_id: str, kind: str, filters: dict[str, Any],
    since: datetime, expires_at: datetime, workflow_id_for: Any,
) -> Wait:  # fmt: skip
    wait_id = new_id("wait")
    wait = Wait(
        id=wait_id, org_id=org_id, inbox_id=inbox_id, kind=kind, filters=filters, since=since,
        expires_at=expires_at, status="active", workflow_id=workflow_id_for(wait_id),
    )  # fmt: skip
    session.add(wait)
    return wait


async def get_wait(session: AsyncSession, scope: TenantScope, wait_id: str) -> Wait:
    wait = await session.scalar(
        select(Wait).where(Wait.id == wait_id, scope.owns_inbox_column(Wait.org_id, Wait.inbox_id))
    )
    if wait is None:
        raise NotFound("wait not found", field="wait_id")
    return wait


async def active_for_inbox(session: AsyncSession, inbox_id: str) -> list[Wait]:
    stmt = select(Wait).where(Wait.inbox_id == inbox_id, Wait.status == "active")
    return list((await session.scalars(stmt)).all())


async def finish(session: AsyncSession, wait_id: str, status: str, message_id: str | None) -> None:
    await session.execute(
        update(Wait)
        .where(Wait.id == wait_id, Wait.status == "active")
        .values(status=status, message_id=message_id, finished_at=utcnow())
    )


async def candidates_since(
    session: AsyncSession, inbox_id: str, since: datetime, limit: int = 500
) -> list[Message]:
    """Processed inbound mail received at or after `since`, oldest first."""
    stmt = (
        select(Message)
        .where(Message.inbox_id == inbox_id, Message.direction == "inbound",
               Message.received_at >= since, Message.pipeline_state.in_(VISIBLE_STATES))
        .order_by(Message.id).limit(limit)
    )  # fmt: skip
    return list((await session.scalars(stmt)).all())
