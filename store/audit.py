"""Writing and reading the audit log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.base import new_id
from store.models import AuditEntry
from store.pagination import Page, paginate


def record(
    session: AsyncSession,
    *,
    org_id: str | None,
    actor_type: str,
    actor_id: str | None,
    action: str,
    resource_type: str | None = None,
    resource_id: str | None = None,
    outcome: str = "ok",
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        id=new_id("aud"),
        org_id=org_id,
        actor_type=actor_type,
        actor_id=actor_id,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        outcome=outcome,
        details=details or {},
    )
    session.add(entry)
    return entry


async def list_entries(
    session: AsyncSession, org_id: str, *, limit: int, after: str | None
) -> Page[AuditEntry]:
    stmt = select(AuditEntry).where(AuditEntry.org_id == org_id)
    return await paginate(session, stmt, AuditEntry.id, limit=limit, after=after)
