"""Domains: the default local domain and lookups by name."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.base import new_id
from store.errors import NotFound
from store.models import Domain


async def ensure_default_domain(session: AsyncSession, name: str) -> Domain:
    name = name.lower()
    domain = await session.scalar(select(Domain).where(Domain.name == name))
    if domain is None:
        domain = Domain(id=new_id("dom"), org_id=None, name=name, is_default=True, status="verified")
        session.add(domain)
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
