"""The suppression list: addresses an organization never sends to again. Added by hard bounces
and complaints (the inbound pipeline), by permanent SMTP failures (the transport) and by hand."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from store.base import new_id, utcnow
from store.errors import NotFound
from store.models import Suppression
from store.pagination import Page, paginate
from store.scope import TenantScope

REASONS = ("hard_bounce", "complaint", "manual")
SOURCES = ("bounce", "complaint", "smtp", "api")


def normalise(address: str) -> str:
    return address.strip().strip("<>").strip().lower()


async def add(
    session: AsyncSession,
    scope: TenantScope,
    address: str,
    *,
    reason: str,
    source: str,
    message_id: str | None = None,
    detail: str | None = None,
) -> Suppression:
    """Suppress `address` (idempotent: an existing suppression is kept as it is)."""
    address = normalise(address)
    values = {
        "id": new_id("sup"), "org_id": scope.org_id, "address": address, "reason": reason,
        "source": source, "message_id": message_id, "detail": (detail or None) and detail[:1000],
        "created_at": utcnow(),
    }  # fmt: skip
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    # ON CONFLICT DO NOTHING: two bounces for one address arriving at once both succeed.
    await session.execute(insert(Suppression).values(**values).on_conflict_do_nothing())
    found = await find(session, scope, address)
    assert found is not None
    return found


async def find(session: AsyncSession, scope: TenantScope, address: str) -> Suppression | None:
    return await session.scalar(
        select(Suppression).where(
            Suppression.org_id == scope.org_id, Suppression.address == normalise(address)
        )
    )


async def suppressed_among(
    session: AsyncSession, scope: TenantScope, addresses: list[str]
) -> dict[str, Suppression]:
    """The suppressed ones of `addresses`, by normalised address."""
    wanted = sorted({normalise(a) for a in addresses})
    if not wanted:
        return {}
    rows = await session.scalars(
        select(Suppression).where(
            Suppression.org_id == scope.org_id, Suppression.address.in_(wanted)
        )
    )
    return {row.address: row for row in rows.all()}


async def get(session: AsyncSession, scope: TenantScope, suppression_id: str) -> Suppression:
    row = await session.scalar(
        select(Suppression).where(
            Suppression.id == suppression_id, Suppression.org_id == scope.org_id
        )
    )
    if row is None:
        raise NotFound("suppression not found", field="suppression_id")
    return row


async def list_suppressions(
    session: AsyncSession,
    scope: TenantScope,
    *,
    address: str | None,
    reason: str | None,
    limit: int,
    after: str | None,
) -> Page[Suppression]:
    stmt = select(Suppression).where(Suppression.org_id == scope.org_id)
    if address is not None:
        stmt = stmt.where(Suppression.address == normalise(address))
    if reason is not None:
        stmt = stmt.where(Suppression.reason == reason)
    return await paginate(session, stmt, Suppression.id, limit=limit, after=after)


async def remove(session: AsyncSession, row: Suppression) -> None:
    await session.execute(delete(Suppression).where(Suppression.id == row.id))
