"""Organizations and their users; bootstrap of the first platform organization."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.scopes import SCOPES
from store import api_keys, domains
from store.base import new_id
from store.errors import NotFound
from store.models import ApiKey, Organization, User


async def create_organization(
    session: AsyncSession, *, name: str, admin_email: str | None, superadmin: bool = False
) -> tuple[Organization, User, ApiKey, str]:
    """Create an org with its first admin user and an admin key; returns the key's secret once."""
    org = Organization(id=new_id("org"), name=name, settings={})
    user = User(
        id=new_id("usr"),
        org_id=org.id,
        email=admin_email,
        name="Administrator",
        role="admin",
        is_superadmin=superadmin,
    )
    session.add_all([org, user])
    await session.flush()
    key, secret = await api_keys.create_key(
        session, org_id=org.id, user=user, name="admin", scopes=list(SCOPES)
    )
    return org, user, key, secret


async def get_org(session: AsyncSession, org_id: str) -> Organization:
    org = await session.get(Organization, org_id)
    if org is None:
        raise NotFound("organization not found")
    return org


async def count_orgs(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Organization)) or 0)


async def bootstrap_platform(
    session: AsyncSession, *, default_domain: str, agents_domain: str | None = None
) -> str | None:
    """Ensure the default domain exists; on an empty database create the platform org.

    Returns the superadmin key's secret when it was just created, else None.
    """
    await domains.ensure_default_domain(session, default_domain)
    if agents_domain:
        await domains.ensure_platform_domain(session, agents_domain)
    if await count_orgs(session):
        return None
    _, _, _, secret = await create_organization(
        session, name="Postflow", admin_email=None, superadmin=True
    )
    return secret
