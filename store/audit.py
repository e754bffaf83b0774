"""Writing and reading the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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


@dataclass(frozen=True)
class AuditFilter:
    """Optional filters; `since` inclusive, `before` exclusive (on the entry's time)."""

    actor_id: str | None = None
    action: str | None = None
    resource_id: str | None = None
    since: datetime | None = None
    before: datetime | None = None


async def list_entries(
    session: AsyncSession, org_id: str, *, limit: int, after: str | None,
    flt: AuditFilter | None = None,
) -> Page[AuditEntry]:  # fmt: skip
    """One organization's entries, newest first."""
    stmt = select(AuditEntry).where(AuditEntry.org_id == org_id)
    if flt is not None:
        if flt.actor_id is not None:
            stmt = stmt.where(AuditEntry.actor_id == flt.actor_id)
        if flt.action is not None:
            stmt = stmt.where(AuditEntry.action == flt.action)
        if flt.resource_id is not None:
            stmt = stmt.where(AuditEntry.resource_id == flt.resource_id)
        if flt.since is not None:
            stmt = stmt.where(AuditEntry.created_at >= flt.since)
        if flt.before is not None:
            stmt = stmt.where(AuditEntry.created_at < flt.before)
    return await paginate(session, stmt, AuditEntry.id, limit=limit, after=after)
