"""Messages: the ingress insert, scoped keyset listing, and pipeline-state bookkeeping."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select, update

from store import messages
from store.base import new_id, utcnow
from store.errors import NotFound
from store.messages import InboundEnvelope, MessageFilter
from store.models import Department, Inbox, Message
from store.scope import TenantScope


def _envelope(inbox: Inbox, n: int = 0) -> InboundEnvelope:
    return InboundEnvelope(
        raw_sha256=f"{n:064x}",
        size=100 + n,
        envelope_from="sender@remote.test",
        envelope_to=[inbox.address],
        subject=f"subject {n}",
        from_address="sender@remote.test",
        from_name="Sender",
        message_id_header=f"<{n}@remote.test>",
    )


async def _insert(sm: Any, inbox: Inbox, count: int = 1) -> list[str]:
    """Insert `count` inbound messages, >1 ms apart so their ids order as they were created."""
    ids = []
    for n in range(count):
        async with sm.begin() as session:
            ids.append(messages.insert_inbound(session, inbox, _envelope(inbox, n)).id)
        await asyncio.sleep(0.002)
    return ids


async def _list_all(
    sm: Any, scope: TenantScope, inbox_id: str, flt: MessageFilter, limit: int
) -> list[list[str]]:
    pages: list[list[str]] = []
    after = None
    async with sm() as session:
        while True:
            page = await messages.list_for_inbox(
                session, scope, inbox_id, flt, limit=limit, after=after
            )
            pages.append([m.id for m in page.items])
            if page.next_after is None:
                return pages
            assert page.next_after == page.items[-1].id
            after = page.next_after


async def _state(sm: Any, message_id: str) -> tuple[str, str | None]:
    async with sm() as session:
        row = (
            await session.execute(
                select(Message.pipeline_state, Message.workflow_id).where(Message.id == message_id)
            )
        ).one()
    return row[0], row[1]


@pytest.fixture
async def inbox(acme: Any, make_inbox: Any) -> Inbox:
    return await make_inbox(acme.scope, "inbound")


async def test_insert_inbound_stores_envelope_as_pending_received(
    platform: Any, acme: Any, inbox: Inbox
) -> None:
    (msg_id,) = await _insert(platform, inbox)
    async with platform() as session:
        msg = await messages.get_for_pipeline(session, msg_id)
    assert msg_id.startswith("msg_")
    assert (msg.org_id, msg.inbox_id, msg.direction) == (acme.org.id, inbox.id, "inbound")
    assert (msg.status, msg.pipeline_state) == ("received", "pending")
    assert (msg.raw_sha256, msg.size, msg.envelope_to) == ("0" * 64, 100, [inbox.address])
    assert (msg.subject, msg.from_name, msg.message_id_header) == (
        "subject 0",
        "Sender",
        "<0@remote.test>",
    )
    assert msg.received_at.tzinfo is not None and abs(utcnow() - msg.received_at) < timedelta(
        minutes=1
    )


async def test_list_for_inbox_pages_newest_first_without_overlap(
    platform: Any, acme: Any, inbox: Inbox
) -> None:
    created = await _insert(platform, inbox, 25)
    pages = await _list_all(platform, acme.scope, inbox.id, MessageFilter(), limit=10)
    assert [len(p) for p in pages] == [10, 10, 5]
    listed = [m for p in pages for m in p]
    assert len(set(listed)) == 25
    assert listed == list(reversed(created))


async def test_list_for_inbox_returns_single_page_when_exactly_limit(
    platform: Any, acme: Any, inbox: Inbox
) -> None:
    await _insert(platform, inbox, 3)
    pages = await _list_all(platform, acme.scope, inbox.id, MessageFilter(), limit=3)
    assert [len(p) for p in pages] == [3]


async def test_list_for_inbox_filters_by_direction(platform: Any, acme: Any, inbox: Inbox) -> None:
    inbound = await _insert(platform, inbox, 2)
    async with platform.begin() as session:
        out = Message(
            id=new_id("msg"),
            org_id=acme.org.id,
            inbox_id=inbox.id,
            direction="outbound",
            status="queued",
        )
        session.add(out)
    only_out = await _list_all(
        platform, acme.scope, inbox.id, MessageFilter(direction="outbound"), 10
    )
    only_in = await _list_all(
        platform, acme.scope, inbox.id, MessageFilter(direction="inbound"), 10
    )
    assert only_out == [[out.id]]
    assert sorted(only_in[0]) == sorted(inbound)


async def test_list_for_inbox_filters_by_since_inclusive(
    platform: Any, acme: Any, inbox: Inbox
) -> None:
    old, edge, new = await _insert(platform, inbox, 3)
    cut = datetime(2030, 5, 1, 12, 0, 0, tzinfo=UTC)
    async with platform.begin() as session:
        for mid, at in (
            (old, cut - timedelta(microseconds=1)),
            (edge, cut),
            (new, cut + timedelta(days=1)),
        ):
            await session.execute(update(Message).where(Message.id == mid).values(received_at=at))
    since_utc = await _list_all(platform, acme.scope, inbox.id, MessageFilter(since=cut), 10)
    # The same instant expressed in another offset selects the same rows.
    plus2 = cut.astimezone(timezone(timedelta(hours=2)))
    since_plus2 = await _list_all(platform, acme.scope, inbox.id, MessageFilter(since=plus2), 10)
    assert since_utc == since_plus2 == [[new, edge]]


async def test_list_for_inbox_returns_nothing_for_another_orgs_inbox(
    platform: Any, globex: Any, inbox: Inbox
) -> None:
    await _insert(platform, inbox, 2)
    assert await _list_all(platform, globex.scope, inbox.id, MessageFilter(), 10) == [[]]


async def test_get_message_raises_not_found_outside_scope(
    platform: Any, acme: Any, globex: Any, inbox: Inbox, make_inbox: Any
) -> None:
    (msg_id,) = await _insert(platform, inbox)
    other_inbox = await make_inbox(acme.scope, "elsewhere")
    limited = TenantScope(org_id=acme.org.id, inbox_ids=frozenset({other_inbox.id}))
    granted = TenantScope(org_id=acme.org.id, inbox_ids=frozenset({inbox.id}))
    async with platform() as session:
        assert (await messages.get_message(session, acme.scope, msg_id)).id == msg_id
        assert (await messages.get_message(session, granted, msg_id)).id == msg_id
        with pytest.raises(NotFound):
            await messages.get_message(session, globex.scope, msg_id)
        with pytest.raises(NotFound):
            await messages.get_message(session, limited, msg_id)
        with pytest.raises(NotFound):
            await messages.get_for_pipeline(session, new_id("msg"))


async def test_get_message_hides_other_department_inbox_from_restricted_member(
    platform: Any, acme: Any, make_inbox: Any
) -> None:
    dep_a, dep_b = new_id("dep"), new_id("dep")
    async with platform.begin() as session:
        session.add_all([Department(id=d, org_id=acme.org.id, name=d) for d in (dep_a, dep_b)])
    theirs = await make_inbox(acme.scope, "dep-b", department_id=dep_b)
    (msg_id,) = await _insert(platform, theirs)
    member = TenantScope(org_id=acme.org.id, department_id=dep_a, restrict_to_department=True)
    async with platform() as session:
        with pytest.raises(NotFound):
            await messages.get_message(session, member, msg_id)
    assert await _list_all(platform, member, theirs.id, MessageFilter(), 10) == [[]]


async def test_mark_started_moves_pending_to_started(platform: Any, inbox: Inbox) -> None:
    (msg_id,) = await _insert(platform, inbox)
    async with platform.begin() as session:
        await messages.mark_started(session, msg_id, "inbound-1")
    assert await _state(platform, msg_id) == ("started", "inbound-1")


@pytest.mark.parametrize("state", ["started", "done", "failed"])
async def test_mark_started_leaves_state_when_already_progressed(
    platform: Any, inbox: Inbox, state: str
) -> None:
    (msg_id,) = await _insert(platform, inbox)
    async with platform.begin() as session:
        await messages.set_pipeline_state(session, msg_id, state, workflow_id="first-run")
    async with platform.begin() as session:
        await messages.mark_started(session, msg_id, "late-duplicate")
    assert await _state(platform, msg_id) == (state, "first-run")


async def test_list_pending_returns_only_pending_older_than_cutoff(
    platform: Any, inbox: Inbox
) -> None:
    stale, fresh, done = await _insert(platform, inbox, 3)
    async with platform.begin() as session:
        ten_min_ago = utcnow() - timedelta(minutes=10)
        for mid in (stale, done):
            await session.execute(
                update(Message).where(Message.id == mid).values(created_at=ten_min_ago)
            )
        await messages.set_pipeline_state(session, done, "done")
    async with platform() as session:
        older = await messages.list_pending(session, older_than=timedelta(minutes=1), limit=10)
        everything = await messages.list_pending(session, older_than=timedelta(0), limit=10)
        limited = await messages.list_pending(session, older_than=timedelta(0), limit=1)
    assert older == [stale]
    assert everything == sorted([stale, fresh])
    assert limited == [stale]


async def test_list_pending_skips_started_messages(platform: Any, inbox: Inbox) -> None:
    first, second = await _insert(platform, inbox, 2)
    async with platform.begin() as session:
        await messages.mark_started(session, first, "wf")
    async with platform() as session:
        assert await messages.list_pending(session, older_than=timedelta(0), limit=10) == [second]
