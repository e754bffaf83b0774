"""Deliverability overviews for agents (MCP `delivery_health`, `lookup_suppression`): the same
store queries and output shapes as `GET /v1/delivery/metrics` and `/v1/delivery/suppressions`."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal
from api.routes.delivery import MetricsOut, SuppressionOut
from store import delivery_events, inboxes, suppressions
from store.base import utcnow


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


async def health(db: AsyncSession, principal: Principal, *, days: int, inbox_id: str | None) -> MetricsOut:
    """Delivery counts and delivery/bounce/complaint rates over the last `days` days."""
    if inbox_id is not None:
        await inboxes.get_inbox(db, principal.scope, inbox_id)  # 404 for invisible inboxes
    since = utcnow() - timedelta(days=days)
    counts, messages = await delivery_events.counts(db, principal.scope, since=since, inbox_id=inbox_id)
    sent = messages["sent"]
    return MetricsOut(
        period_days=days, since=since, inbox_id=inbox_id, counts=counts, messages=messages,
        delivery_rate=_rate(messages["delivered"], sent), bounce_rate=_rate(messages["bounced"], sent),
        complaint_rate=_rate(messages["complained"], sent),
    )  # fmt: skip


async def lookup_suppression(db: AsyncSession, principal: Principal, address: str) -> SuppressionOut | None:
    row = await suppressions.find(db, principal.scope, address)
    return SuppressionOut.of(row) if row is not None else None
