"""Reading the event log for the events API: list oldest first (catch-up), read one, and the
batches the live stream polls for. Tenant-scoped by `TenantScope`; writing is store.events.

Event ids are time-ordered (ULIDs), so "after this id" is a position in the log and a time
can be turned into an id bound (`id_floor`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.errors import NotFound
from store.models import Event
from store.pagination import Page, paginate
from store.scope import TenantScope

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


@dataclass(frozen=True)
class EventFilter:
    types: tuple[str, ...] = ()  # empty: every type
    inbox_id: str | None = None


def id_floor(when: datetime) -> str:
    """The smallest event id that could have been made at `when` (store.base.new_id layout)."""
    value = max(0, int(when.timestamp() * 1000)) << 80
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "evt_" + "".join(reversed(chars))


def _select(scope: TenantScope, flt: EventFilter) -> Select[Event]:
    stmt = select(Event).where(scope.owns_inbox_column(Event.org_id, Event.inbox_id))
    if flt.types:
        stmt = stmt.where(Event.type.in_(flt.types))
    if flt.inbox_id is not None:
        stmt = stmt.where(Event.inbox_id == flt.inbox_id)
    return stmt


async def list_events(
    session: AsyncSession, scope: TenantScope, flt: EventFilter, *, limit: int, after: str | None
) -> Page[Event]:
    """Oldest first: a consumer resumes after the last id it processed."""
    return await paginate(
        session, _select(scope, flt), Event.id, limit=limit, after=after, ascending=True
    )


async def get_event(session: AsyncSession, scope: TenantScope, event_id: str) -> Event:
    event = await session.scalar(_select(scope, EventFilter()).where(Event.id == event_id))
    if event is None:
        raise NotFound("event not found", field="event_id")
    return event


async def events_after(
    session: AsyncSession, scope: TenantScope, flt: EventFilter, *, after: str, limit: int
) -> list[Event]:
    stmt = _select(scope, flt).where(Event.id > after).order_by(Event.id.asc()).limit(limit)
    return list((await session.scalars(stmt)).all())


async def late_events(
    session: AsyncSession,
    scope: TenantScope,
    flt: EventFilter,
    *,
    above: str,
    below: str,
    seen: Collection[str],
    limit: int,
) -> list[Event]:
    """Events with `above < id < below` not in `seen`: ids are made before their transaction
    commits, so a slow transaction can land an id lower than one already streamed."""
    stmt = _select(scope, flt).where(Event.id > above, Event.id < below)
    if seen:
        stmt = stmt.where(Event.id.not_in(list(seen)))
    return list((await session.scalars(stmt.order_by(Event.id.asc()).limit(limit))).all())
