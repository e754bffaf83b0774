"""The frames of `GET /v1/events/stream`: poll the event log and turn new events into
Server-Sent Events. The stream polls (webhooks are the push channel); each poll opens its own
short session, so a stream never holds a database connection while it waits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

from litestar.response.sse import ServerSentEventMessage
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.auth import Principal
from contracts.events import EventEnvelope
from store import api_keys
from store.base import utcnow
from store.errors import NotFound
from store.event_queries import EventFilter, events_after, id_floor, late_events
from store.models import Event

POLL_SECONDS = 0.25
KEEPALIVE_SECONDS = 15.0
# The key is re-checked this often, so revoking it ends its streams.
KEY_CHECK_SECONDS = 30.0
# Streams end after this long; clients reconnect with Last-Event-ID (EventSource does), which
# re-authenticates them and spreads them over replicas.
MAX_STREAM_SECONDS = 15 * 60
RECONNECT_MS = 1000
BATCH = 100
# Ids are made before their transaction commits: an event may become visible after one with
# a higher id was streamed. Events this recent are re-scanned for such late arrivals.
LATE_WINDOW = timedelta(seconds=10)


async def _key_live(session: AsyncSession, principal: Principal) -> bool:
    try:
        key = await api_keys.get_key(session, principal.org_id, principal.key_id)
    except NotFound:
        return False
    return key.revoked_at is None and (key.expires_at is None or key.expires_at > utcnow())


class _Cursor:
    """Where the stream is: the highest id sent, and the recent ids sent (for late arrivals)."""

    def __init__(self, start: str) -> None:
        self.start = start
        self.last = start
        self.recent: set[str] = set()

    def window_floor(self) -> str:
        return max(self.start, id_floor(utcnow() - LATE_WINDOW))

    def sent(self, events: list[Event]) -> None:
        self.recent.update(e.id for e in events)
        self.last = max([self.last, *(e.id for e in events)])
        floor = self.window_floor()
        self.recent = {i for i in self.recent if i > floor}


async def _poll(
    session: AsyncSession, principal: Principal, flt: EventFilter, cur: _Cursor
) -> list[Event]:
    floor = cur.window_floor()
    late: list[Event] = []
    if floor < cur.last:
        late = await late_events(session, principal.scope, flt, above=floor, below=cur.last,
                                 seen=cur.recent, limit=BATCH)  # fmt: skip
    return late + await events_after(session, principal.scope, flt, after=cur.last, limit=BATCH)


async def frames(
    sessionmaker: async_sessionmaker[AsyncSession],
    principal: Principal,
    flt: EventFilter,
    start: str,
    render: Callable[[Event], EventEnvelope],
) -> AsyncIterator[ServerSentEventMessage]:
    """Events after `start` as they are written, until the key dies or the stream is old."""
    cur = _Cursor(start)
    opened = last_frame = last_check = time.monotonic()
    yield ServerSentEventMessage(data=None, comment="stream open", retry=RECONNECT_MS)
    while time.monotonic() - opened < MAX_STREAM_SECONDS:
        async with sessionmaker() as session:
            if time.monotonic() - last_check > KEY_CHECK_SECONDS:
                if not await _key_live(session, principal):
                    return
                last_check = time.monotonic()
            batch = await _poll(session, principal, flt, cur)
        for ev in batch:
            yield ServerSentEventMessage(id=ev.id, event=ev.type, data=render(ev).model_dump_json())
        cur.sent(batch)
        now = time.monotonic()
        if batch:
            last_frame = now
        elif now - last_frame >= KEEPALIVE_SECONDS:
            yield ServerSentEventMessage(data=None, comment="keep-alive")
            last_frame = now
        if len(batch) < BATCH:
            await asyncio.sleep(POLL_SECONDS)
