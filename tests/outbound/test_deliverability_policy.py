"""Send policy (suppressions, allow/block lists, narrowest scope wins) and receive policy, on
SQLite and PostgreSQL with the real migrations."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outbound.policy import check_receive_policy, check_send_policy
from store import access_lists, domains, inboxes, orgs, suppressions
from store.engine import create_engine_for_url, create_sessionmaker
from store.migrate import upgrade_url
from store.models import Inbox
from store.scope import TenantScope

Sm = async_sessionmaker[AsyncSession]


@pytest.fixture(scope="module")
async def sm(db_url: str) -> AsyncIterator[Sm]:
    await upgrade_url(db_url)
    engine = create_engine_for_url(db_url)
    maker = create_sessionmaker(engine)
    async with maker.begin() as s:
        await domains.ensure_default_domain(s, "policy.test")
    yield maker
    await engine.dispose()


async def _org_with_inboxes(sm: Sm, n: int = 2) -> tuple[TenantScope, list[Inbox]]:
    async with sm.begin() as s:
        org, _user, _key, _secret = await orgs.create_organization(s, name="P", admin_email=None)
        scope = TenantScope(org_id=org.id)
        boxes = [await inboxes.create_inbox(s, scope, local_part=None, name="", domain_name=None)
                 for _ in range(n)]  # fmt: skip
    return scope, boxes


async def _entry(sm: Sm, scope: TenantScope, inbox: Inbox | None, direction: str, kind: str, value: str) -> None:
    async with sm.begin() as s:
        await access_lists.create(s, scope, inbox_id=inbox.id if inbox else None,
                                  direction=direction, kind=kind, value=value)  # fmt: skip


async def _refusals(sm: Sm, scope: TenantScope, inbox: Inbox, rcpts: list[str]) -> dict[str, str]:
    async with sm() as s:
        return {r.address: r.reason for r in await check_send_policy(s, scope, inbox.id, rcpts)}


async def test_check_send_policy_refuses_suppressed_address_case_insensitively(sm: Sm) -> None:
    scope, (inbox, _) = await _org_with_inboxes(sm)
    async with sm.begin() as s:
        await suppressions.add(s, scope, "Gone@Example.COM", reason="hard_bounce", source="bounce")
    async with sm() as s:
        refused = await check_send_policy(s, scope, inbox.id, ["gone@example.com", "ok@example.com"])
    assert [(r.address, r.reason) for r in refused] == [("gone@example.com", "suppressed")]
    assert "hard_bounce" in refused[0].detail


async def test_check_send_policy_suppression_of_one_org_does_not_affect_another(sm: Sm) -> None:
    a, (inbox_a, _) = await _org_with_inboxes(sm)
    b, (inbox_b, _) = await _org_with_inboxes(sm)
    async with sm.begin() as s:
        await suppressions.add(s, a, "x@example.com", reason="manual", source="api")
    assert await _refusals(sm, a, inbox_a, ["x@example.com"]) == {"x@example.com": "suppressed"}
    assert await _refusals(sm, b, inbox_b, ["x@example.com"]) == {}


async def test_check_send_policy_blocks_a_blocked_domain_and_its_subdomains(sm: Sm) -> None:
    scope, (inbox, _) = await _org_with_inboxes(sm)
    await _entry(sm, scope, None, "send", "block", "competitor.com")
    got = await _refusals(sm, scope, inbox, ["a@competitor.com", "b@mail.competitor.com",
                                             "c@notcompetitor.com"])  # fmt: skip
    assert got == {"a@competitor.com": "blocked", "b@mail.competitor.com": "blocked"}


async def test_check_send_policy_inbox_allow_list_is_narrower_than_org_block(sm: Sm) -> None:
    scope, (inbox, other) = await _org_with_inboxes(sm)
    await _entry(sm, scope, None, "send", "block", "example.org")
    await _entry(sm, scope, inbox, "send", "allow", "boss@example.org")
    # The inbox's allow list wins for its listed address and refuses everything else ...
    assert await _refusals(sm, scope, inbox, ["boss@example.org", "staff@example.org", "x@y.com"]) == {
        "staff@example.org": "not_allowed", "x@y.com": "not_allowed"}  # fmt: skip
    # ... while another inbox of the org follows the org's block list only.
    assert await _refusals(sm, scope, other, ["boss@example.org", "x@y.com"]) == {
        "boss@example.org": "blocked"}  # fmt: skip


async def test_check_send_policy_address_entry_beats_domain_entry_in_one_scope(sm: Sm) -> None:
    scope, (inbox, _) = await _org_with_inboxes(sm)
    await _entry(sm, scope, None, "send", "block", "partner.com")
    await _entry(sm, scope, None, "send", "allow", "ceo@partner.com")
    got = await _refusals(sm, scope, inbox, ["ceo@partner.com", "dev@partner.com", "a@b.com"])
    # An org allow list exists now: unlisted outside addresses are not allowed either.
    assert got == {"dev@partner.com": "blocked", "a@b.com": "not_allowed"}


async def test_check_send_policy_inbox_block_overrides_org_allow(sm: Sm) -> None:
    scope, (inbox, other) = await _org_with_inboxes(sm)
    await _entry(sm, scope, None, "send", "allow", "example.net")
    await _entry(sm, scope, inbox, "send", "block", "intern@example.net")
    assert await _refusals(sm, scope, inbox, ["intern@example.net", "lead@example.net"]) == {
        "intern@example.net": "blocked"}  # fmt: skip
    assert await _refusals(sm, scope, other, ["intern@example.net", "a@else.com"]) == {
        "a@else.com": "not_allowed"}  # fmt: skip


async def test_check_send_policy_reports_each_refused_recipient_once(sm: Sm) -> None:
    scope, (inbox, _) = await _org_with_inboxes(sm)
    await _entry(sm, scope, None, "send", "block", "spam.test")
    async with sm() as s:
        refused = await check_send_policy(s, scope, inbox.id, ["a@spam.test", "a@spam.test", " "])
    assert [r.address for r in refused] == ["a@spam.test"]


async def test_receive_policy_blocks_sender_but_never_the_null_sender(sm: Sm) -> None:
    scope, (inbox, other) = await _org_with_inboxes(sm)
    await _entry(sm, scope, inbox, "receive", "allow", "boss@corp.test")
    await _entry(sm, scope, None, "receive", "block", "spammer.test")
    async with sm() as s:
        assert (await check_receive_policy(s, scope.org_id, inbox.id, "boss@corp.test")).allowed
        assert (await check_receive_policy(s, scope.org_id, inbox.id, "")).allowed
        refused = await check_receive_policy(s, scope.org_id, inbox.id, "someone@else.test")
        assert (refused.allowed, refused.reason) == (False, "not_allowed")
        blocked = await check_receive_policy(s, scope.org_id, other.id, "x@spammer.test")
        assert (blocked.allowed, blocked.reason) == (False, "blocked")
        assert (await check_receive_policy(s, scope.org_id, other.id, "x@fine.test")).allowed
        # Send lists do not apply to receiving.
        assert (await check_receive_policy(s, scope.org_id, other.id, "x@corp.test")).allowed


async def test_access_list_duplicate_entry_is_a_conflict(sm: Sm) -> None:
    from store.errors import Conflict

    scope, (inbox, _) = await _org_with_inboxes(sm)
    await _entry(sm, scope, inbox, "send", "block", "dup.test")
    with pytest.raises(Conflict):
        await _entry(sm, scope, inbox, "send", "block", "DUP.test")
    await _entry(sm, scope, None, "send", "block", "dup.test")  # another scope: fine
