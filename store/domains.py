"""Domains: the default local domain and lookups by name."""

from __future__ import annotations

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.base import new_id
from store.errors import NotFound
from store.models import Domain


async def ensure_default_domain(session: AsyncSession, name: str) -> Domain:
    """Make `name` the one default domain; earlier defaults stay local domains (their inboxes
    keep receiving), they just stop being where new inboxes go."""
    name = name.lower()
    domain = await session.scalar(select(Domain).where(Domain.name == name))
    if domain is None:
        domain = Domain(id=new_id("dom"), org_id=None, name=name, is_default=True, status="verified")
        session.add(domain)
    await session.execute(
        update(Domain).where(Domain.is_default.is_(True), Domain.name != name).values(is_default=False)
    )
    domain.is_default = True
    await session.flush()
    return domain


async def find_by_name(session: AsyncSession, name: str) -> Domain | None:
    return await session.scalar(select(Domain).where(Domain.name == name.lower()))


async def default_domain(session: AsyncSession) -> Domain:
    domain = await session.scalar(select(Domain).where(Domain.is_default.is_(True)).limit(1))
    if domain is None:
        raise NotFound("no default domain configured")
    return domain


async def usable_domain(session: AsyncSession, org_id: str, name: str) -> Domain:
    """A domain this org may create inboxes on: its own or a platform domain."""
    domain = await session.scalar(
        select(Domain).where(
            Domain.name == name.lower(), or_(Domain.org_id == org_id, Domain.org_id.is_(None))
        )
    )
    if domain is None:
        raise NotFound(f"domain {name!r} not found", field="domain")
    return domain


async def ensure_platform_domain(session: AsyncSession, name: str) -> Domain:
    """A local domain shared by every organization, not the default one (e.g. agent aliases)."""
    name = name.lower()
    domain = await session.scalar(select(Domain).where(Domain.name == name))
    if domain is None:
        domain = Domain(id=new_id("dom"), org_id=None, name=name, is_default=False, status="verified")
        session.add(domain)
        await session.flush()
    return domain
