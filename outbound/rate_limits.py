"""Send rate limits per organization and per inbox, in fixed hourly and daily (UTC) windows.

`consume` counts `count` recipients against the four counters (org/inbox × hour/day) or none:
each counter is one row bumped with a conditional upsert (`INSERT … ON CONFLICT DO UPDATE …
WHERE count + n <= limit RETURNING count`), in a fixed key order so concurrent callers never
deadlock; if one counter refuses, the ones already bumped are given back in the same
transaction. PostgreSQL's row locks (SQLite's database lock) make this exact under concurrency,
and the caller's transaction owns the outcome: if it rolls back, so does the consumption.

Limits: `settings.send_limits = {"hourly": n, "daily": n}` on the inbox or the organization,
else the POSTFLOW_[ORG_]SEND_LIMIT_{HOURLY,DAILY} defaults; 0 means no limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from settings import Settings
from store.models import Inbox, Organization, RateLimitCounter
from store.scope import TenantScope

SESSION_SETTINGS = "postflow_settings"  # session.info key a process may put its Settings under


@dataclass(frozen=True)
class RateLimitDecision:
    allowed: bool
    limit: int  # of the binding window (the refusing one, or the one with least room left)
    remaining: int
    reset_at: datetime
    retry_after_seconds: int  # 0 when allowed
    scope: str = "inbox"  # "org" | "inbox" | "none" (no limit configured anywhere)
    window: str = "hour"  # "hour" | "day"

    def headers(self) -> dict[str, str]:
        """`X-RateLimit-*` (and `Retry-After` when refused) for an HTTP response."""
        out = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(int(self.reset_at.timestamp())),
        }
        if not self.allowed:
            out["Retry-After"] = str(self.retry_after_seconds)
        return out


@dataclass(frozen=True)
class _Window:
    key: str
    limit: int
    end: datetime
    scope: str
    window: str


def _default(settings: Settings | None, name: str) -> int:
    if settings is not None:
        return int(getattr(settings, name))
    return int(Settings.model_fields[name].default)


def _configured(own: dict[str, Any] | None, period: str, default: int) -> int:
    limits = (own or {}).get("send_limits") or {}
    value = limits.get(period) if isinstance(limits, dict) else None
    return int(value) if isinstance(value, int) and value >= 0 else default


def _windows(
    now: datetime, org: Organization, inbox: Inbox, settings: Settings | None
) -> list[_Window]:
    hour = now.replace(minute=0, second=0, microsecond=0)
    day = hour.replace(hour=0)
    spans = {"hour": (hour, hour + timedelta(hours=1)), "day": (day, day + timedelta(days=1))}
    out = []
    for scope, owner, prefix in (("org", org, "org_"), ("inbox", inbox, "")):
        for window, period in (("hour", "hourly"), ("day", "daily")):
            default = _default(settings, f"{prefix}send_limit_{period}")
            limit = _configured(owner.settings, period, default)
            if limit <= 0:
                continue
            start, end = spans[window]
            out.append(_Window(f"{scope}:{owner.id}:{window}:{int(start.timestamp())}",
                               limit, end, scope, window))  # fmt: skip
    return sorted(out, key=lambda w: w.key)


async def _bump(session: AsyncSession, w: _Window, count: int) -> int | None:
    """The counter after adding `count`, or None when that would exceed the limit."""
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(RateLimitCounter).values(key=w.key, count=count, window_end=w.end)
    stmt = stmt.on_conflict_do_update(
        index_elements=[RateLimitCounter.key],
        set_={"count": RateLimitCounter.count + count},
        where=RateLimitCounter.count + count <= w.limit,
    ).returning(RateLimitCounter.count)
    return (await session.execute(stmt)).scalar_one_or_none()


async def consume(
    session: AsyncSession,
    scope: TenantScope,
    inbox_id: str,
    count: int,
    *,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> RateLimitDecision:
    """Count `count` recipients for `inbox_id` if every window has room; else count nothing.

    `settings` supplies the defaults (else `session.info[SESSION_SETTINGS]`, else the
    built-in defaults)."""
    settings = settings or session.info.get(SESSION_SETTINGS)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    org = await session.get(Organization, scope.org_id)
    inbox = await session.scalar(
        select(Inbox).where(Inbox.id == inbox_id, Inbox.org_id == scope.org_id)
    )
    if org is None or inbox is None:
        raise LookupError(f"inbox {inbox_id} not found in organization {scope.org_id}")
    windows = _windows(now, org, inbox, settings)
    if not windows:
        return RateLimitDecision(True, 0, 0, now, 0, scope="none")
    count = max(0, count)
    for w in windows:
        if count > w.limit:
            return _refused(w, await _current(session, w), now)
    bumped: list[tuple[_Window, int]] = []
    for w in windows:
        after = await _bump(session, w, count)
        if after is None:
            for done, _ in bumped:  # give back what this call took; rows stay locked meanwhile
                await session.execute(
                    update(RateLimitCounter).where(RateLimitCounter.key == done.key)
                    .values(count=RateLimitCounter.count - count)
                )  # fmt: skip
            return _refused(w, await _current(session, w), now)
        bumped.append((w, after))
        if after == count:  # the first send of a new window: drop this owner's expired ones
            await _prune(session, w, now)
    tightest, used = min(bumped, key=lambda b: (b[0].limit - b[1], b[0].end))
    return RateLimitDecision(True, tightest.limit, tightest.limit - used, tightest.end, 0,
                             scope=tightest.scope, window=tightest.window)  # fmt: skip


async def _prune(session: AsyncSession, w: _Window, now: datetime) -> None:
    """Expired counters of the window's owner and period (once per window, so rows stay few)."""
    prefix = w.key.rsplit(":", 1)[0] + ":"
    await session.execute(
        delete(RateLimitCounter).where(
            RateLimitCounter.window_end <= now, RateLimitCounter.key.startswith(prefix)
        )
    )


async def _current(session: AsyncSession, w: _Window) -> int:
    value = await session.scalar(
        select(RateLimitCounter.count).where(RateLimitCounter.key == w.key)
    )
    return int(value or 0)


def _refused(w: _Window, used: int, now: datetime) -> RateLimitDecision:
    retry = max(1, int((w.end - now).total_seconds() + 0.999))
    return RateLimitDecision(False, w.limit, max(0, w.limit - used), w.end, retry,
                             scope=w.scope, window=w.window)  # fmt: skip


def session_info(settings: Settings) -> dict[str, Any]:
    """What a process's sessionmaker carries in `session.info` (`sessionmaker.configure(info=…)`)
    so `consume` finds the limit defaults and `outbound.dkim` the master key without both being
    threaded through every caller."""
    from outbound.dkim import SESSION_MASTER_KEY

    info: dict[str, Any] = {SESSION_SETTINGS: settings}
    if settings.master_key is not None:
        info[SESSION_MASTER_KEY] = settings.master_key_bytes()
    return info
