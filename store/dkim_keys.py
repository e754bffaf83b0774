"""DKIM keys per domain: the active key of a domain, creating and rotating keys. Private keys
arrive here already sealed (outbound.dkim generates and seals them); this module only stores."""

from __future__ import annotations

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.base import new_id
from store.errors import NotFound
from store.models import DkimKey, Domain


async def domain_for_org(session: AsyncSession, org_id: str, domain_id: str) -> Domain:
    """A domain the organization may see: its own or a platform domain (404 otherwise)."""
    domain = await session.scalar(
        select(Domain).where(
            Domain.id == domain_id, or_(Domain.org_id == org_id, Domain.org_id.is_(None))
        )
    )
    if domain is None:
        raise NotFound("domain not found", field="domain_id")
    return domain


async def domain_by_name(session: AsyncSession, org_id: str, name: str) -> Domain | None:
    return await session.scalar(
        select(Domain).where(
            Domain.name == name.lower().rstrip("."),
            or_(Domain.org_id == org_id, Domain.org_id.is_(None)),
        )
    )


async def active_key(session: AsyncSession, domain_id: str) -> DkimKey | None:
    return await session.scalar(
        select(DkimKey)
        .where(DkimKey.domain_id == domain_id, DkimKey.active.is_(True))
        .order_by(DkimKey.created_at.desc(), DkimKey.id.desc())
        .limit(1)
    )


async def add_key(
    session: AsyncSession,
    domain: Domain,
    *,
    selector: str,
    private_key_sealed: str,
    public_key: str,
    key_bits: int,
) -> DkimKey:
    """Store a new active key; the domain's earlier keys stop signing (their DNS records can
    stay published until mail signed with them has been delivered)."""
    await session.execute(
        update(DkimKey).where(DkimKey.domain_id == domain.id).values(active=False)
    )
    key = DkimKey(
        id=new_id("dkim"), domain_id=domain.id, selector=selector, algorithm="rsa-sha256",
        key_bits=key_bits, private_key_sealed=private_key_sealed, public_key=public_key,
        active=True,
    )  # fmt: skip
    session.add(key)
    await session.flush()
    return key
