"""Inboxes: creation on the default domain, tenant/department/key scoping, lookup, deletion."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from store import domains, inboxes, messages
from store.base import new_id
from store.errors import Conflict, NotFound
from store.messages import InboundEnvelope
from store.models import Attachment, Department, Domain, Inbox, Message, Thread
from store.parsed import ParsedFields, store_parsed
from store.scope import TenantScope


async def _ids(sm: Any, scope: TenantScope) -> set[str]:
    async with sm() as session:
        page = await inboxes.list_inboxes(session, scope, limit=100, after=None)
    return {i.id for i in page.items}


def _fields(attachments: list[dict[str, Any]]) -> ParsedFields:
    return ParsedFields(
        message_id_header="<m@x>",
        in_reply_to=None,
        references=[],
        subject="s",
        from_address="a@x.test",
        from_name="A",
        to=[],
        cc=[],
        reply_to=[],
        sent_at=None,
        headers=[],
        text="hi",
        html=None,
        stripped_text="hi",
        attachments=attachments,
    )


def _attachment(name: str) -> dict[str, Any]:
    return {
        "filename": name,
        "content_type": "text/plain",
        "size": 1,
        "sha256": "0" * 64,
        "content_id": None,
        "inline": False,
    }


async def test_create_inbox_lowercases_address_on_default_domain(
    platform: Any, acme: Any, make_inbox: Any, default_domain: str
) -> None:
    inbox = await make_inbox(acme.scope, "Support.Team", name="Support")
    assert inbox.local_part == "support.team"
    assert inbox.address == f"support.team@{default_domain}"
    async with platform() as session:
        stored = await inboxes.get_inbox(session, acme.scope, inbox.id)
        domain = await session.get(Domain, stored.domain_id)
    assert (stored.address, stored.org_id, stored.name) == (inbox.address, acme.org.id, "Support")
    assert domain is not None and domain.is_default


async def test_create_inbox_raises_conflict_when_local_part_taken(
    acme: Any, globex: Any, make_inbox: Any
) -> None:
    await make_inbox(acme.scope, "sales")
    with pytest.raises(Conflict) as exc:
        await make_inbox(acme.scope, "SALES")
    assert exc.value.field == "local_part"
    # Addresses are global: another organisation cannot take it either.
    with pytest.raises(Conflict):
        await make_inbox(globex.scope, "sales")


async def test_create_inbox_raises_conflict_when_concurrent_create_wins_race(
    platform: Any, acme: Any, globex: Any
) -> None:
    # A's insert is flushed but uncommitted when B checks, so B's pre-check passes and only
    # the unique constraint stops it; that IntegrityError must surface as Conflict.
    async with platform() as a_session:
        await inboxes.create_inbox(
            a_session, acme.scope, local_part="race", name="", domain_name=None
        )

        async def b_create() -> Inbox:
            async with platform.begin() as b_session:
                return await inboxes.create_inbox(
                    b_session, globex.scope, local_part="race", name="", domain_name=None
                )

        b = asyncio.create_task(b_create())
        await asyncio.sleep(0.5)  # B is now blocked on A's write lock / unique index entry
        assert not b.done()
        await a_session.commit()
        with pytest.raises(Conflict) as exc:
            await b
    assert isinstance(exc.value.__cause__, IntegrityError)


async def test_create_inbox_generates_random_local_part_when_none(
    acme: Any, make_inbox: Any, default_domain: str
) -> None:
    first, second = await make_inbox(acme.scope, None), await make_inbox(acme.scope, None)
    for inbox in (first, second):
        assert re.fullmatch(r"agent-[0-9a-f]{8}", inbox.local_part)
        assert inbox.address == f"{inbox.local_part}@{default_domain}"
    assert first.address != second.address


async def test_create_inbox_uses_own_domain_but_not_another_orgs(
    platform: Any, acme: Any, globex: Any
) -> None:
    async with platform.begin() as session:
        session.add(
            Domain(id=new_id("dom"), org_id=acme.org.id, name="acme.example", is_default=False)
        )
    async with platform.begin() as session:
        inbox = await inboxes.create_inbox(
            session, acme.scope, local_part="ops", name="", domain_name="ACME.example"
        )
    assert inbox.address == "ops@acme.example"
    async with platform.begin() as session:
        with pytest.raises(NotFound):
            await inboxes.create_inbox(
                session, globex.scope, local_part="ops2", name="", domain_name="acme.example"
            )


async def test_get_inbox_raises_not_found_for_another_orgs_inbox(
    platform: Any, acme: Any, globex: Any, make_inbox: Any
) -> None:
    inbox = await make_inbox(acme.scope, "private")
    async with platform() as session:
        assert (await inboxes.get_inbox(session, acme.scope, inbox.id)).id == inbox.id
        with pytest.raises(NotFound):
            await inboxes.get_inbox(session, globex.scope, inbox.id)
    assert inbox.id not in await _ids(platform, globex.scope)


async def test_list_inboxes_returns_only_own_org_paginated(
    platform: Any, acme: Any, globex: Any, make_inbox: Any
) -> None:
    own = [await make_inbox(acme.scope, f"box{i}") for i in range(3)]
    await make_inbox(globex.scope, "theirs")
    async with platform() as session:
        first = await inboxes.list_inboxes(session, acme.scope, limit=2, after=None)
        second = await inboxes.list_inboxes(session, acme.scope, limit=2, after=first.next_after)
    assert len(first.items) == 2 and first.next_after == first.items[-1].id
    assert len(second.items) == 1 and second.next_after is None
    assert {i.id for i in first.items + second.items} == {i.id for i in own}


async def test_scope_with_inbox_ids_restricts_get_and_list(
    platform: Any, acme: Any, make_inbox: Any
) -> None:
    allowed, hidden = (
        await make_inbox(acme.scope, "allowed"),
        await make_inbox(acme.scope, "hidden"),
    )
    scope = TenantScope(org_id=acme.org.id, inbox_ids=frozenset({allowed.id}))
    assert await _ids(platform, scope) == {allowed.id}
    async with platform() as session:
        assert (await inboxes.get_inbox(session, scope, allowed.id)).id == allowed.id
        with pytest.raises(NotFound):
            await inboxes.get_inbox(session, scope, hidden.id)
    # An empty grant sees nothing (not everything).
    assert await _ids(platform, TenantScope(org_id=acme.org.id, inbox_ids=frozenset())) == set()


async def test_scope_restricted_to_department_sees_own_and_unassigned_inboxes(
    platform: Any, acme: Any, make_inbox: Any
) -> None:
    sales, legal = new_id("dep"), new_id("dep")
    async with platform.begin() as session:
        session.add_all(
            [
                Department(id=sales, org_id=acme.org.id, name="Sales"),
                Department(id=legal, org_id=acme.org.id, name="Legal"),
            ]
        )
    mine = await make_inbox(acme.scope, "sales-desk", department_id=sales)
    shared = await make_inbox(acme.scope, "front-desk")
    other = await make_inbox(acme.scope, "legal-desk", department_id=legal)
    member = TenantScope(org_id=acme.org.id, department_id=sales, restrict_to_department=True)
    assert await _ids(platform, member) == {mine.id, shared.id}
    async with platform() as session:
        with pytest.raises(NotFound):
            await inboxes.get_inbox(session, member, other.id)
    # Unrestricted (admin) scope of the same org sees all three.
    assert await _ids(platform, acme.scope) == {mine.id, shared.id, other.id}


async def test_find_by_address_finds_any_orgs_inbox_case_insensitively(
    platform: Any, acme: Any, globex: Any, make_inbox: Any
) -> None:
    a, g = await make_inbox(acme.scope, "alpha"), await make_inbox(globex.scope, "gamma")
    async with platform() as session:
        found_a = await inboxes.find_by_address(session, a.address.upper())
        found_g = await inboxes.find_by_address(session, g.address)
        missing = await inboxes.find_by_address(session, "nobody@" + a.address.split("@")[1])
        local = await inboxes.is_local_domain(session, a.address.split("@")[1].upper())
        foreign = await inboxes.is_local_domain(session, "elsewhere.test")
    assert found_a is not None and (found_a.id, found_a.org_id) == (a.id, acme.org.id)
    assert found_g is not None and (found_g.id, found_g.org_id) == (g.id, globex.org.id)
    assert missing is None
    assert (local, foreign) == (True, False)


async def test_update_inbox_merges_settings_and_sets_fields(
    platform: Any, acme: Any, make_inbox: Any
) -> None:
    inbox = await make_inbox(acme.scope, "cfg", settings={"a": 1, "b": 2})
    async with platform.begin() as session:
        loaded = await inboxes.get_inbox(session, acme.scope, inbox.id)
        await inboxes.update_inbox(
            session, loaded, {"settings": {"b": 3, "c": 4}, "name": "Renamed"}
        )
    async with platform() as session:
        stored = await inboxes.get_inbox(session, acme.scope, inbox.id)
    assert (stored.settings, stored.name) == ({"a": 1, "b": 3, "c": 4}, "Renamed")


async def test_delete_inbox_cascades_messages_threads_and_attachments(
    platform: Any, acme: Any, make_inbox: Any
) -> None:
    doomed, kept = await make_inbox(acme.scope, "doomed"), await make_inbox(acme.scope, "kept")
    ids = {}
    async with platform.begin() as session:
        for inbox in (doomed, kept):
            thread = Thread(id=new_id("thr"), org_id=acme.org.id, inbox_id=inbox.id)
            session.add(thread)
            await session.flush()  # no ORM relationship orders the thread before its message
            msg = messages.insert_inbound(
                session,
                inbox,
                InboundEnvelope(
                    raw_sha256="f" * 64,
                    size=10,
                    envelope_from="a@x.test",
                    envelope_to=[inbox.address],
                ),
            )
            msg.thread_id = thread.id
            await session.flush()
            await store_parsed(
                session, msg.id, _fields([_attachment("a.txt"), _attachment("b.txt")])
            )
            ids[inbox.id] = msg.id
    async with platform.begin() as session:
        await inboxes.delete_inbox(session, await inboxes.get_inbox(session, acme.scope, doomed.id))

    async def count(model: Any, column: Any, value: str) -> int:
        async with platform() as session:
            return int(
                await session.scalar(select(func.count()).select_from(model).where(column == value))
            )

    assert await count(Inbox, Inbox.id, doomed.id) == 0
    assert await count(Message, Message.inbox_id, doomed.id) == 0
    assert await count(Thread, Thread.inbox_id, doomed.id) == 0
    assert await count(Attachment, Attachment.message_id, ids[doomed.id]) == 0
    # The other inbox's mail is untouched.
    assert await count(Message, Message.inbox_id, kept.id) == 1
    assert await count(Thread, Thread.inbox_id, kept.id) == 1
    assert await count(Attachment, Attachment.message_id, ids[kept.id]) == 2
    async with platform() as session:
        assert await domains.find_by_name(session, doomed.address.split("@")[1]) is not None
