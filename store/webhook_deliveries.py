"""Webhook deliveries (one per event and endpoint) and their attempts: creating them
idempotently, recording each attempt, finishing them, and reading them for the API.

Endpoint CRUD and secrets live in store/webhooks.py; an endpoint's failure streak and its
disabling are outcomes of deliveries, so they are written here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.base import new_id, utcnow
from store.errors import Conflict, NotFound
from store.models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from store.pagination import Page, paginate

PENDING = "pending"
_NO_KEY_UPDATE = {"key_share": True}  # PostgreSQL FOR NO KEY UPDATE; SQLite ignores it


def matches(endpoint: WebhookEndpoint, event: Event) -> bool:
    """Whether the endpoint subscribes to the event. An endpoint limited to some inboxes gets
    only events of those inboxes (not organization-wide ones, which carry no inbox)."""
    if endpoint.event_types and event.type not in endpoint.event_types:
        return False
    return endpoint.inbox_ids is None or event.inbox_id in endpoint.inbox_ids


async def create_for_events(
    session: AsyncSession, event_ids: Sequence[str], *, workflow_id_for: Callable[[str], str]
) -> list[WebhookDelivery]:
    """The delivery of each event to each enabled endpoint of its org that subscribes to it;
    existing ones are returned as they are (a retried dispatch creates nothing twice)."""
    if not event_ids:
        return []
    # Endpoints first (one statement): most organizations have none, and then that is all.
    orgs = select(Event.org_id).where(Event.id.in_(event_ids)).scalar_subquery()
    endpoints = (await session.scalars(select(WebhookEndpoint).where(
        WebhookEndpoint.org_id.in_(orgs), WebhookEndpoint.enabled.is_(True),
    ))).all()  # fmt: skip
    if not endpoints:
        return []
    events = list((await session.scalars(select(Event).where(Event.id.in_(event_ids)))).all())
    pairs = [(e, ep) for e in events for ep in endpoints
             if ep.org_id == e.org_id and matches(ep, e)]  # fmt: skip
    return await _ensure(session, pairs, workflow_id_for)


async def for_replay(
    session: AsyncSession, org_id: str, endpoint_id: str, since: datetime, until: datetime,
    limit: int, *, workflow_id_for: Callable[[str], str],
) -> list[WebhookDelivery]:  # fmt: skip
    """Deliveries of the org's events in [since, until) that the endpoint subscribes to, oldest
    first; finished ones are reopened (pending) so they can run again."""
    endpoint = await session.scalar(select(WebhookEndpoint).where(
        WebhookEndpoint.id == endpoint_id, WebhookEndpoint.org_id == org_id))  # fmt: skip
    if endpoint is None:
        raise NotFound("webhook endpoint not found", field="endpoint_id")
    if not endpoint.enabled:
        raise Conflict("the webhook endpoint is disabled; enable it first", field="endpoint_id")
    stmt = select(Event).where(Event.org_id == org_id, Event.created_at >= since,
                               Event.created_at < until)  # fmt: skip
    if endpoint.event_types:
        stmt = stmt.where(Event.type.in_(endpoint.event_types))
    if endpoint.inbox_ids is not None:
        stmt = stmt.where(Event.inbox_id.in_(endpoint.inbox_ids))
    events = (await session.scalars(stmt.order_by(Event.id).limit(limit))).all()
    deliveries = await _ensure(session, [(e, endpoint) for e in events], workflow_id_for)
    for delivery in deliveries:
        reopen(delivery)
    return deliveries


def reopen(delivery: WebhookDelivery) -> None:
    """Make a finished delivery pending again (a manual retry or a replay)."""
    if delivery.status != PENDING:
        delivery.status = PENDING
        delivery.completed_at = None
        delivery.next_attempt_at = utcnow()


async def _ensure(
    session: AsyncSession, pairs: list[tuple[Event, WebhookEndpoint]],
    workflow_id_for: Callable[[str], str],
) -> list[WebhookDelivery]:  # fmt: skip
    if not pairs:
        return []
    now = utcnow()
    rows = []
    for event, endpoint in pairs:
        delivery_id = new_id("whd")
        rows.append({
            "id": delivery_id, "org_id": event.org_id, "endpoint_id": endpoint.id,
            "event_id": event.id, "event_type": event.type, "status": PENDING,
            "attempt_count": 0, "next_attempt_at": now, "workflow_id": workflow_id_for(delivery_id),
            "created_at": now, "updated_at": now,
        })  # fmt: skip
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    # ON CONFLICT DO NOTHING: a concurrent or retried dispatch keeps the first row and its id.
    await session.execute(dialect.insert(WebhookDelivery).values(rows).on_conflict_do_nothing(
        index_elements=["event_id", "endpoint_id"]))  # fmt: skip
    wanted = {(e.id, ep.id) for e, ep in pairs}
    found = (await session.scalars(select(WebhookDelivery).where(
        WebhookDelivery.event_id.in_({e for e, _ in wanted}),
        WebhookDelivery.endpoint_id.in_({ep for _, ep in wanted}),
    ).order_by(WebhookDelivery.event_id, WebhookDelivery.id))).all()  # fmt: skip
    return [d for d in found if (d.event_id, d.endpoint_id) in wanted]


async def attempt_context(
    session: AsyncSession, delivery_id: str
) -> tuple[WebhookDelivery, WebhookEndpoint, Event] | None:
    """The delivery with its endpoint and event, or None when it no longer exists."""
    row = (await session.execute(
        select(WebhookDelivery, WebhookEndpoint, Event)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .join(Event, Event.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.id == delivery_id)
    )).first()  # fmt: skip
    return None if row is None else (row[0], row[1], row[2])


async def record_attempt(
    session: AsyncSession, delivery_id: str, endpoint_id: str, *, attempted_at: datetime,
    success: bool, status_code: int | None, latency_ms: int | None, error: str | None,
    response_body: str | None, next_attempt_at: datetime | None,
) -> datetime | None:  # fmt: skip
    """Log one attempt on the attempt table, the delivery and the endpoint's failure streak.

    Returns when the endpoint's current run of failures began (None after a success).
    """
    error = error[:500] if error else None
    # A delivery canceled while this attempt was in flight gets no next attempt time.
    next_at = case((WebhookDelivery.status == PENDING, literal(
        next_attempt_at, type_=WebhookDelivery.next_attempt_at.type)), else_=None)  # fmt: skip
    number = await session.scalar(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
        .values(attempt_count=WebhookDelivery.attempt_count + 1, last_status_code=status_code,
                last_error=error, next_attempt_at=next_at, updated_at=attempted_at)
        .returning(WebhookDelivery.attempt_count))  # fmt: skip
    if number is None:  # deleted with its endpoint meanwhile
        return None
    session.add(WebhookAttempt(
        id=new_id("wha"), delivery_id=delivery_id, endpoint_id=endpoint_id, attempt=number,
        attempted_at=attempted_at, status_code=status_code, latency_ms=latency_ms, error=error,
        response_body=response_body, success=success,
    ))  # fmt: skip
    # SQL increments, not read-modify-write: many deliveries of one endpoint report at once.
    # updated_at is kept: it tells when the endpoint's configuration last changed.
    streak = update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
    if success:
        await session.execute(streak.values(failing_since=None, consecutive_failures=0,
                                            updated_at=WebhookEndpoint.updated_at))  # fmt: skip
        return None
    since = literal(attempted_at, type_=WebhookEndpoint.failing_since.type)
    return await session.scalar(streak.values(
        failing_since=func.coalesce(WebhookEndpoint.failing_since, since),
        consecutive_failures=WebhookEndpoint.consecutive_failures + 1,
        updated_at=WebhookEndpoint.updated_at,
    ).returning(WebhookEndpoint.failing_since))  # fmt: skip


async def finish(session: AsyncSession, delivery_id: str, status: str) -> WebhookDelivery | None:
    """Set the final status once (a retried finish changes nothing)."""
    # FOR NO KEY UPDATE: serialises finishers without blocking inserts that reference the row.
    delivery = await session.get(WebhookDelivery, delivery_id, with_for_update=_NO_KEY_UPDATE)
    if delivery is not None and delivery.status == PENDING:
        delivery.status = status
        delivery.completed_at = utcnow()
        delivery.next_attempt_at = None
    return delivery


async def disable_endpoint(
    session: AsyncSession, endpoint_id: str, reason: str
) -> WebhookEndpoint | None:
    """Disable the endpoint; None when it is gone or already disabled (nothing to announce)."""
    endpoint = await session.get(WebhookEndpoint, endpoint_id, with_for_update=_NO_KEY_UPDATE)
    if endpoint is None or not endpoint.enabled:
        return None
    endpoint.enabled = False
    endpoint.disabled_reason = reason[:200]
    return endpoint


async def events_about(session: AsyncSession, type_: str, resource_id: str) -> list[str]:
    """Ids of the events of this type about this resource (zero or one)."""
    return list((await session.scalars(select(Event.id).where(
        Event.type == type_, Event.resource_id == resource_id))).all())  # fmt: skip


async def pending_workflow_ids(session: AsyncSession, org_id: str, endpoint_id: str) -> list[str]:
    return list((await session.scalars(select(WebhookDelivery.workflow_id).where(
        WebhookDelivery.org_id == org_id, WebhookDelivery.endpoint_id == endpoint_id,
        WebhookDelivery.status == PENDING,
    ))).all())  # fmt: skip


async def list_for_endpoint(
    session: AsyncSession, org_id: str, endpoint_id: str, limit: int = 50,
    after: str | None = None, status: str | None = None,
) -> Page[WebhookDelivery]:  # fmt: skip
    """The endpoint's deliveries, newest first, keyset-paginated on the delivery id."""
    stmt = select(WebhookDelivery).where(WebhookDelivery.org_id == org_id,
                                         WebhookDelivery.endpoint_id == endpoint_id)  # fmt: skip
    if status is not None:
        stmt = stmt.where(WebhookDelivery.status == status)
    return await paginate(session, stmt, WebhookDelivery.id, limit=limit, after=after)


async def get_delivery(
    session: AsyncSession, org_id: str | None, delivery_id: str
) -> WebhookDelivery:
    """The org's delivery (NotFound for another org's); org_id None is for internal callers."""
    stmt = select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
    if org_id is not None:
        stmt = stmt.where(WebhookDelivery.org_id == org_id)
    delivery = await session.scalar(stmt)
    if delivery is None:
        raise NotFound("webhook delivery not found", field="delivery_id")
    return delivery


async def attempts_of(session: AsyncSession, delivery_id: str) -> list[WebhookAttempt]:
    """Every attempt of the delivery, in order (callers check the delivery's org first)."""
    stmt = select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id)
    stmt = stmt.order_by(WebhookAttempt.attempt, WebhookAttempt.id)
    return list((await session.scalars(stmt)).all())


@dataclass(frozen=True)
class EndpointHealth:
    endpoint_id: str
    attempts: int  # in the window
    success_rate: float | None  # None without attempts in the window
    p50_ms: int | None
    p95_ms: int | None
    consecutive_failures: int
    failing_since: datetime | None
    last_success_at: datetime | None  # all time
    last_failure_at: datetime | None


async def health(
    session: AsyncSession, org_id: str, *, window: timedelta = timedelta(hours=24),
    max_attempts: int = 1000,
) -> dict[str, EndpointHealth]:  # fmt: skip
    """Per endpoint of the org: success rate and latency over its last `max_attempts`
    attempts within `window`, its failure streak, and its last success and failure."""
    endpoints = (await session.execute(select(
        WebhookEndpoint.id, WebhookEndpoint.consecutive_failures, WebhookEndpoint.failing_since,
    ).where(WebhookEndpoint.org_id == org_id).order_by(WebhookEndpoint.id))).all()  # fmt: skip
    ids = [row[0] for row in endpoints]
    last: dict[tuple[str, bool], datetime] = {}
    if ids:
        latest = select(WebhookAttempt.endpoint_id, WebhookAttempt.success,
                        func.max(WebhookAttempt.attempted_at))  # fmt: skip
        latest = latest.where(WebhookAttempt.endpoint_id.in_(ids)).group_by(
            WebhookAttempt.endpoint_id, WebhookAttempt.success)  # fmt: skip
        for endpoint_id, success, at in await session.execute(latest):
            last[(endpoint_id, bool(success))] = at
    since = utcnow() - window
    result = {}
    for endpoint_id, streak, failing_since in endpoints:
        recent = (await session.execute(
            select(WebhookAttempt.success, WebhookAttempt.latency_ms)
            .where(WebhookAttempt.endpoint_id == endpoint_id, WebhookAttempt.attempted_at >= since)
            .order_by(WebhookAttempt.attempted_at.desc()).limit(max_attempts)
        )).all()  # fmt: skip
        latencies = sorted(int(ms) for _, ms in recent if ms is not None)
        result[endpoint_id] = EndpointHealth(
            endpoint_id=endpoint_id, attempts=len(recent),
            success_rate=sum(1 for ok, _ in recent if ok) / len(recent) if recent else None,
            p50_ms=_percentile(latencies, 0.50), p95_ms=_percentile(latencies, 0.95),
            consecutive_failures=streak, failing_since=failing_since,
            last_success_at=last.get((endpoint_id, True)),
            last_failure_at=last.get((endpoint_id, False)),
        )  # fmt: skip
    return result


def _percentile(sorted_values: list[int], p: float) -> int | None:
    """Nearest-rank percentile."""
    if not sorted_values:
        return None
    return sorted_values[max(0, math.ceil(p * len(sorted_values)) - 1)]


async def overdue(
    session: AsyncSession, *, grace: timedelta, limit: int = 200
) -> list[WebhookDelivery]:
    """Pending deliveries whose next attempt is more than `grace` overdue, oldest first: their
    workflow is backlogged, or it never started (dispatch committed the row, then the start
    failed). The delivery reconciler tells these apart by asking Temporal."""
    cutoff = utcnow() - grace
    stmt = select(WebhookDelivery).where(
        WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= cutoff
    ).order_by(WebhookDelivery.next_attempt_at).limit(limit)  # fmt: skip
    return list((await session.scalars(stmt)).all())


async def pending_in_range(
    session: AsyncSession, org_id: str, endpoint_id: str, since: datetime, until: datetime
) -> list[WebhookDelivery]:
    """The endpoint's deliveries still pending (their workflow is running) among the events of
    [since, until): a replay leaves them to their running workflow and says so."""
    stmt = (
        select(WebhookDelivery)
        .join(Event, Event.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.org_id == org_id, WebhookDelivery.endpoint_id == endpoint_id,
               WebhookDelivery.status == PENDING, Event.created_at >= since,
               Event.created_at < until)
        .order_by(WebhookDelivery.event_id)
    )  # fmt: skip
    return list((await session.scalars(stmt)).all())
