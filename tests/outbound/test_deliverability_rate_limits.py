"""Send rate limits: hourly/daily windows per inbox and per org, all-or-nothing consumption,
configured limits, and exactness under concurrent callers on PostgreSQL (and SQLite)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from outbound.rate_limits import consume, session_info
from settings import Settings, load_settings
from store import domains, inboxes, orgs
from store.engine import create_engine_for_url, create_sessionmaker
from store.migrate import upgrade_url
from store.models import Inbox, Organization, RateLimitCounter
from store.scope import TenantScope

Sm = async_sessionmaker[AsyncSession]
NOW = datetime(2026, 11, 21, 10, 15, tzinfo=UTC)


def _settings(**kw: int) -> Settings:
    base = {"send_limit_hourly": 5, "send_limit_daily": 8, "org_send_limit_hourly": 100,
            "org_send_limit_daily": 1000}  # fmt: skip
    return load_settings({}, master_key="k", **{**base, **kw})


@pytest.fixture(scope="module")
async def sm(db_url: str) -> AsyncIterator[Sm]:
    await upgrade_url(db_url)
    engine = create_engine_for_url(db_url, **({} if db_url.startswith("sqlite") else
                                               {"pool_size": 20, "max_overflow": 0}))  # fmt: skip
    maker = create_sessionmaker(engine)
    async with maker.begin() as s:
        await domains.ensure_default_domain(s, "limits.test")
    yield maker
    await engine.dispose()


async def _org(sm: Sm, n: int = 1, org_settings: dict | None = None) -> tuple[TenantScope, list[Inbox]]:
    async with sm.begin() as s:
        org, _u, _k, _s = await orgs.create_organization(s, name="L", admin_email=None)
        if org_settings:
            (await s.get(Organization, org.id)).settings = org_settings  # type: ignore[union-attr]
        scope = TenantScope(org_id=org.id)
        boxes = [await inboxes.create_inbox(s, scope, local_part=None, name="", domain_name=None)
                 for _ in range(n)]  # fmt: skip
    return scope, boxes


async def _consume(sm: Sm, scope: TenantScope, inbox: Inbox, n: int, settings: Settings,
                   now: datetime = NOW):  # fmt: skip
    async with sm.begin() as s:
        return await consume(s, scope, inbox.id, n, settings=settings, now=now)


async def _counts(sm: Sm, prefix: str) -> dict[str, int]:
    async with sm() as s:
        rows = (await s.execute(select(RateLimitCounter.key, RateLimitCounter.count)
                                .where(RateLimitCounter.key.like(f"{prefix}%")))).all()  # fmt: skip
    return {k.split(":")[2]: c for k, c in rows}


async def test_consume_refuses_beyond_the_hourly_inbox_limit_with_reset_and_retry_after(sm: Sm) -> None:
    scope, (inbox,) = await _org(sm)
    st = _settings()
    results = [await _consume(sm, scope, inbox, 1, st) for _ in range(6)]
    assert [r.allowed for r in results] == [True] * 5 + [False]
    assert [r.remaining for r in results[:5]] == [4, 3, 2, 1, 0]
    refused = results[-1]
    assert (refused.limit, refused.remaining, refused.scope, refused.window) == (5, 0, "inbox", "hour")
    assert refused.reset_at == datetime(2026, 11, 21, 11, 0, tzinfo=UTC)
    assert refused.retry_after_seconds == 45 * 60
    assert refused.headers()["Retry-After"] == str(45 * 60)
    # The next hour has room again, until the daily limit (8) binds.
    later = [await _consume(sm, scope, inbox, 1, st, NOW + timedelta(hours=1)) for _ in range(4)]
    assert [r.allowed for r in later] == [True, True, True, False]
    assert (later[-1].window, later[-1].limit) == ("day", 8)
    assert later[-1].reset_at == datetime(2026, 11, 22, tzinfo=UTC)


async def test_consume_is_all_or_nothing_across_windows(sm: Sm) -> None:
    scope, (inbox,) = await _org(sm)
    st = _settings(send_limit_hourly=10, send_limit_daily=10, org_send_limit_hourly=4)
    assert (await _consume(sm, scope, inbox, 3, st)).allowed
    refused = await _consume(sm, scope, inbox, 2, st)  # the org's hour has 1 left
    assert (refused.allowed, refused.scope, refused.remaining) == (False, "org", 1)
    # Nothing of the refused call was counted, in any window.
    assert set((await _counts(sm, f"inbox:{inbox.id}")).values()) == {3}
    assert set((await _counts(sm, f"org:{scope.org_id}")).values()) == {3}
    assert (await _consume(sm, scope, inbox, 1, st)).allowed


async def test_consume_org_limit_spans_every_inbox_of_the_org(sm: Sm) -> None:
    scope, (a, b) = await _org(sm, 2)
    st = _settings(org_send_limit_hourly=3)
    assert (await _consume(sm, scope, a, 2, st)).allowed
    assert not (await _consume(sm, scope, b, 2, st)).allowed
    assert (await _consume(sm, scope, b, 1, st)).allowed


async def test_consume_uses_inbox_and_org_configured_limits_and_zero_means_none(sm: Sm) -> None:
    scope, (inbox, free) = await _org(sm, 2, org_settings={"send_limits": {"hourly": 0, "daily": 0}})
    async with sm.begin() as s:
        (await s.get(Inbox, inbox.id)).settings = {"send_limits": {"hourly": 2}}  # type: ignore[union-attr]
        (await s.get(Inbox, free.id)).settings = {"send_limits": {"hourly": 0, "daily": 0}}  # type: ignore[union-attr]
    st = _settings()
    assert [(await _consume(sm, scope, inbox, 1, st)).allowed for _ in range(3)] == [True, True, False]
    unlimited = [await _consume(sm, scope, free, 50, st) for _ in range(3)]
    assert all(r.allowed and r.scope == "none" for r in unlimited)


async def test_consume_refuses_a_batch_larger_than_the_limit_without_counting(sm: Sm) -> None:
    scope, (inbox,) = await _org(sm)
    refused = await _consume(sm, scope, inbox, 6, _settings())
    assert not refused.allowed and refused.remaining == 5
    assert await _counts(sm, f"inbox:{inbox.id}") == {}


async def test_consume_rolls_back_with_the_callers_transaction(sm: Sm) -> None:
    scope, (inbox,) = await _org(sm)
    st = _settings()
    with pytest.raises(RuntimeError):
        async with sm.begin() as s:
            assert (await consume(s, scope, inbox.id, 5, settings=st, now=NOW)).allowed
            raise RuntimeError("the send failed validation after consuming")
    assert (await _consume(sm, scope, inbox, 5, st)).allowed


async def test_consume_takes_settings_from_the_session_info(sm: Sm) -> None:
    scope, (inbox,) = await _org(sm)
    maker = async_sessionmaker(sm.kw["bind"], expire_on_commit=False)
    maker.configure(info=session_info(_settings(send_limit_hourly=1)))
    async with maker.begin() as s:
        assert (await consume(s, scope, inbox.id, 1, now=NOW)).allowed
        assert not (await consume(s, scope, inbox.id, 1, now=NOW)).allowed


async def test_consume_is_exact_under_concurrent_callers(sm: Sm, db_url: str) -> None:
    scope, (a, b) = await _org(sm, 2)
    st = _settings(send_limit_hourly=7, send_limit_daily=100, org_send_limit_hourly=12)
    # Each call its own session and transaction, all at once: 40 attempts on two inboxes.
    calls = [_consume(sm, scope, a if i % 2 else b, 1, st) for i in range(40)]
    results = await asyncio.gather(*calls)
    allowed = [r for r in results if r.allowed]
    assert len(allowed) == 12  # the org's hour; neither inbox alone could exceed 7
    counts_a = await _counts(sm, f"inbox:{a.id}")
    counts_b = await _counts(sm, f"inbox:{b.id}")
    assert counts_a["hour"] <= 7 and counts_b["hour"] <= 7
    assert counts_a["hour"] + counts_b["hour"] == 12
    assert (await _counts(sm, f"org:{scope.org_id}")) == {"hour": 12, "day": 12}


async def test_consume_drops_expired_windows_of_the_owner(sm: Sm) -> None:
    scope, (inbox,) = await _org(sm)
    st = _settings()
    for hours in range(3):
        assert (await _consume(sm, scope, inbox, 1, st, NOW + timedelta(hours=hours))).allowed
    async with sm() as s:
        keys = (await s.scalars(select(RateLimitCounter.key).where(
            RateLimitCounter.key.like(f"inbox:{inbox.id}:hour:%")))).all()  # fmt: skip
    # Only the current hour is left; the two earlier ones were pruned when it began.
    assert keys == [f"inbox:{inbox.id}:hour:{int((NOW + timedelta(hours=2)).replace(minute=0).timestamp())}"]
