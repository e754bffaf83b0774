"""Writing events to the event log, once per (type, resource) even when an activity retries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.base import new_id
from store.models import Event


async def emit(
    session: AsyncSession,
    *,
    org_id: str,
    inbox_id: str | None,
    type: str,  # noqa: A002 (the event's type is its name in the catalogue)
    resource_id: str,
    payload: dict[str, Any],
    labels: list[str] | None = None,
) -> Event:
    existing = await session.scalar(
        select(Event).where(Event.type == type, Event.resource_id == resource_id)
    )
    if existing is not None:
        return existing
    event = Event(
        id=new_id("evt"), org_id=org_id, inbox_id=inbox_id, type=type, resource_id=resource_id,
        payload=payload, labels=labels or [],
    )  # fmt: skip
    session.add(event)
    await session.flush()
    return event
