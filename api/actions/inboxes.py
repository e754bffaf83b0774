"""Inbox service functions shared by the REST routes and the MCP/agent tools."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import audit_action
from api.auth import Principal
from store import inboxes
from store.models import Inbox
from store.pagination import Page


async def create(
    db: AsyncSession, principal: Principal, *, local_part: str | None, name: str, domain: str | None
) -> Inbox:
    """A new inbox in the principal's organization (and department); audited."""
    inbox = await inboxes.create_inbox(
        db, principal.scope, local_part=local_part, name=name, domain_name=domain,
        department_id=principal.scope.department_id,
    )  # fmt: skip
    audit_action(db, principal, "inbox.create", resource_type="inbox", resource_id=inbox.id)
    return inbox


async def list_visible(db: AsyncSession, principal: Principal, *, limit: int, after: str | None) -> Page[Inbox]:
    return await inboxes.list_inboxes(db, principal.scope, limit=limit, after=after)
