"""Agent chat runs: who started a run, for which inbox, with which scopes."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.base import new_id
from store.errors import NotFound
from store.models import AgentRun, Inbox
from store.scope import TenantScope


def create(session: AsyncSession, *, org_id: str, inbox_id: str, key_id: str, scopes: list[str],
           workflow_id_for: object) -> AgentRun:  # fmt: skip
    run_id = new_id("run")
    row = AgentRun(id=run_id, org_id=org_id, inbox_id=inbox_id, key_id=key_id, scopes=sorted(scopes),
                   workflow_id=workflow_id_for(run_id))  # type: ignore[operator]  # fmt: skip
    session.add(row)
    return row


async def get(session: AsyncSession, scope: TenantScope, run_id: str) -> AgentRun:
    """A run of the scope's organization on an inbox the scope can see; else NotFound."""
    row = await session.scalar(
        select(AgentRun).join(Inbox, Inbox.id == AgentRun.inbox_id)
        .where(AgentRun.id == run_id, AgentRun.org_id == scope.org_id, scope.inbox_filter())
    )  # fmt: skip
    if row is None:
        raise NotFound("chat run not found", field="run_id")
    return row
