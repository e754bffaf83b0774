"""Send policy: may this inbox send to these recipients? Checks the organization's suppression
list, then the sending allow/block lists (inbox scope before org scope, see store.access_lists).
Called by the one send path before any transport; refusals are returned, never raised."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from store import access_lists, suppressions
from store.scope import TenantScope

RefusalReason = Literal["suppressed", "blocked", "not_allowed"]


@dataclass(frozen=True)
class PolicyRefusal:
    address: str
    reason: RefusalReason
    detail: str


async def check_send_policy(
    session: AsyncSession, scope: TenantScope, inbox_id: str, recipients: list[str]
) -> list[PolicyRefusal]:
    """One refusal per refused recipient (in the order given; duplicates reported once)."""
    unique = list(dict.fromkeys(r.strip() for r in recipients if r.strip()))
    if not unique:
        return []
    suppressed = await suppressions.suppressed_among(session, scope, unique)
    decisions = await access_lists.decide(session, scope.org_id, inbox_id, "send", unique)
    refusals: list[PolicyRefusal] = []
    for address in unique:
        hit = suppressed.get(suppressions.normalise(address))
        if hit is not None:
            detail = f"{hit.address} is suppressed ({hit.reason})"
            refusals.append(PolicyRefusal(address, "suppressed", detail))
            continue
        decision = decisions[address]
        if not decision.allowed:
            reason: RefusalReason = "blocked" if decision.reason == "blocked" else "not_allowed"
            refusals.append(PolicyRefusal(address, reason, decision.detail))
    return refusals


async def check_receive_policy(
    session: AsyncSession, org_id: str, inbox_id: str, sender: str
) -> access_lists.Decision:
    """May `inbox_id` receive mail from `sender` (the envelope sender)? The null sender of
    bounces and other DSNs is always accepted: an allow list must not swallow our bounces."""
    if not sender.strip().strip("<>"):
        return access_lists.Decision(True, None, None, None, "null sender")
    if not await access_lists.has_entries(session, org_id, inbox_id, "receive"):
        return access_lists.Decision(True, None, None, None, "no list applies")  # the usual case
    return (await access_lists.decide(session, org_id, inbox_id, "receive", [sender]))[sender]


class ReceivePolicy:
    """`check_receive_policy` for the ingress, with its usual answer cached: an inbox with no
    receive list (at its own or the org's scope) is remembered for `ttl` seconds, so a cached
    recipient costs no query at RCPT. A new list entry takes effect within `ttl`."""

    def __init__(self, ttl: float = 5.0, max_entries: int = 20_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._unlisted: dict[str, float] = {}  # inbox id -> until (monotonic)

    async def allows(self, session: AsyncSession, org_id: str, inbox_id: str, sender: str) -> bool:
        if not sender.strip().strip("<>"):
            return True
        now = time.monotonic()
        if self._unlisted.get(inbox_id, 0.0) > now:
            return True
        if not await access_lists.has_entries(session, org_id, inbox_id, "receive"):
            if len(self._unlisted) >= self.max_entries:
                self._unlisted = {k: v for k, v in self._unlisted.items() if v > now}
                if len(self._unlisted) >= self.max_entries:
                    self._unlisted.clear()
            self._unlisted[inbox_id] = now + self.ttl
            return True
        return (await check_receive_policy(session, org_id, inbox_id, sender)).allowed
