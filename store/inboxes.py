"""Inboxes: create, look up (by id within a scope, or by address for the ingress), update, delete."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from store import domains
from store.base import new_id
from store.errors import Conflict, NotFound
from store.models import Domain, Inbox
from store.pagination import Page, paginate
from store.scope import TenantScope


async def create_inbox(
    session: AsyncSession,
    scope: TenantScope,
    *,
    local_part: str | None,
    name: str,
    domain_name: str | None,
    department_id: str | None = None,
    settings: dict[str, Any] | None = None,
) -> Inbox:
    if domain_name:
        domain = await domains.usable_domain(session, scope.org_id, domain_name)
    else:
        domain = await domains.default_domain(session)
    local = (local_part or f"agent-{secrets.token_hex(4)}").lower()
    address = f"{local}@{domain.name}"
    if await session.scalar(select(Inbox.id).where(Inbox.address == address)):
        raise Conflict(f"address {address} is taken", field="local_part")
    inbox = Inbox(
        id=new_id("inb"),
        org_id=scope.org_id,
        domain_id=domain.id,
        local_part=local,
        address=address,
        name=name,
        department_id=department_id,
        settings=settings or {},
    )
    session.add(inbox)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent create of the same address won the race
        raise Conflict(f"address {address} is taken", field="local_part") from exc
    return inbox


async def get_inbox(session: AsyncSession, scope: TenantScope, inbox_id: str) -> Inbox:
    inbox = await session.scalar(select(Inbox).where(Inbox.id == inbox_id, scope.inbox_filter()))
    if inbox is None:
        raise NotFound("inbox not found", field="inbox_id")
    return inbox


async def list_inboxes(
    session: AsyncSession, scope: TenantScope, *, limit: int, after: str | None
) -> Page[Inbox]:
    stmt = select(Inbox).where(scope.inbox_filter())
    return await paginate(session, stmt, Inbox.id, limit=limit, after=after)


async def update_inbox(session: AsyncSession, inbox: Inbox, changes: dict[str, Any]) -> Inbox:
    for field, value in changes.items():
        if field == "settings" and value is not None:
            inbox.settings = {**inbox.settings, **value}
        else:
            setattr(inbox, field, value)
    await session.flush()
    return inbox


async def delete_inbox(session: AsyncSession, inbox: Inbox) -> None:
    await session.execute(delete(Inbox).where(Inbox.id == inbox.id))


async def find_by_address(session: AsyncSession, address: str) -> Inbox | None:
    """Recipient lookup for the ingress: any organization's inbox with this address."""
    return await session.scalar(select(Inbox).where(Inbox.address == address.lower()))


async def is_local_domain(session: AsyncSession, domain_name: str) -> bool:
    return (
        await session.scalar(select(Domain.id).where(Domain.name == domain_name.lower()))
    ) is not None
