"""UTCDateTime: whatever goes in, a timezone-aware UTC datetime for the same instant comes out."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from store.base import new_id
from store.models import ApiKey, Domain

KOLKATA = timezone(timedelta(hours=5, minutes=30))
NEW_YORK_WINTER = timezone(timedelta(hours=-5))


@pytest.fixture
def process_in_kolkata() -> Iterator[None]:
    """Run with a non-UTC local zone, so "naive means local time" would be caught."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Kolkata"
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved
        time.tzset()


async def _round_trip(sm: Any, value: datetime | None) -> datetime | None:
    dom_id = new_id("dom")
    async with sm.begin() as session:
        session.add(Domain(id=dom_id, org_id=None, name=f"{dom_id}.test", created_at=value))
    async with sm() as session:  # a new session: the value comes back from the database
        return await session.scalar(select(Domain.created_at).where(Domain.id == dom_id))


def _assert_utc(value: datetime | None, expected: datetime) -> None:
    assert value is not None
    assert value.tzinfo is UTC
    assert value == expected
    assert value.replace(tzinfo=None) == expected.astimezone(UTC).replace(tzinfo=None)


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        (
            datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
            datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        ),
        # Naive input is taken as UTC, never as the server's or the process's local time.
        (datetime(2030, 1, 2, 3, 4, 5, 678901), datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)),
        (datetime(2030, 1, 2, 12, 0, tzinfo=KOLKATA), datetime(2030, 1, 2, 6, 30, tzinfo=UTC)),
        # An offset that crosses midnight (and a year boundary) is converted, not relabelled.
        (
            datetime(2030, 12, 31, 22, 0, tzinfo=NEW_YORK_WINTER),
            datetime(2031, 1, 1, 3, 0, tzinfo=UTC),
        ),
    ],
    ids=["aware-utc", "naive", "plus-0530", "minus-0500-next-year"],
)
async def test_utc_datetime_round_trips_as_aware_utc(
    platform: Any, process_in_kolkata: None, stored: datetime, expected: datetime
) -> None:
    assert datetime(2030, 1, 1).astimezone().utcoffset() == timedelta(hours=5, minutes=30)
    _assert_utc(await _round_trip(platform, stored), expected)


async def test_utc_datetime_round_trips_none(platform: Any, acme: Any) -> None:
    async with platform.begin() as session:
        key = await session.scalar(select(ApiKey).where(ApiKey.org_id == acme.org.id))
        key.revoked_at = datetime(2030, 1, 1, tzinfo=UTC)
    async with platform.begin() as session:
        await session.execute(update(ApiKey).where(ApiKey.id == key.id).values(revoked_at=None))
    async with platform() as session:
        assert await session.scalar(select(ApiKey.revoked_at).where(ApiKey.id == key.id)) is None


async def test_utc_datetime_stores_utc_wall_time_in_database(
    platform: Any, engine: AsyncEngine
) -> None:
    dom_id = new_id("dom")
    async with platform.begin() as session:
        session.add(
            Domain(
                id=dom_id,
                org_id=None,
                name=f"{dom_id}.test",
                created_at=datetime(2030, 6, 1, 12, 0, tzinfo=KOLKATA),
            )
        )
    async with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # SQLite has no zone: the stored text must be the UTC wall time.
            raw = await conn.scalar(
                text("SELECT created_at FROM domains WHERE id = :i"), {"i": dom_id}
            )
            assert str(raw).startswith("2030-06-01 06:30:00")
        else:
            raw = await conn.scalar(
                text(
                    "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') "
                    "FROM domains WHERE id = :i"
                ),
                {"i": dom_id},
            )
            assert raw == "2030-06-01 06:30:00"


async def test_utc_datetime_reads_utc_whatever_the_connection_time_zone(
    platform: Any, engine: AsyncEngine
) -> None:
    dom_id = new_id("dom")
    instant = datetime(2030, 6, 1, 6, 30, tzinfo=UTC)
    async with platform.begin() as session:
        session.add(Domain(id=dom_id, org_id=None, name=f"{dom_id}.test", created_at=instant))
    async with platform() as session:
        if session.bind.dialect.name == "postgresql":
            # PostgreSQL returns timestamptz in the session zone; the type must normalise it.
            await session.execute(text("SET TIME ZONE 'Asia/Kolkata'"))
            shown = await session.scalar(
                text("SELECT created_at::text FROM domains WHERE id = :i"), {"i": dom_id}
            )
            assert shown.endswith("+05:30")
        value = await session.scalar(select(Domain.created_at).where(Domain.id == dom_id))
        # Filtering with a non-UTC bound compares instants, not wall times.
        hit = await session.scalar(
            select(Domain.id).where(
                Domain.id == dom_id, Domain.created_at >= instant.astimezone(KOLKATA)
            )
        )
        miss = await session.scalar(
            select(Domain.id).where(
                Domain.id == dom_id,
                Domain.created_at
                > (instant + timedelta(microseconds=1)).astimezone(NEW_YORK_WINTER),
            )
        )
        await session.rollback()  # do not leak the SET into the pooled connection
    _assert_utc(value, instant)
    assert (hit, miss) == (dom_id, None)
