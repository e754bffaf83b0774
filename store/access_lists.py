"""Allow and block lists for sending and receiving, at organization and inbox scope.

Deciding one address: the inbox's entries are consulted first, then the organization's (the
narrowest scope wins). Within a scope an address entry beats a domain entry, and a domain
entry beats one of its parent domains; the first match decides (allow or block). A scope with
an allow list and no matching entry refuses (`not_allowed`): an allow list means only listed
addresses. No entry and no allow list anywhere: allowed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from store.base import new_id
from store.errors import Conflict, NotFound
from store.models import AccessListEntry
from store.pagination import Page, paginate
from store.scope import TenantScope

ORG_SCOPE_KEY = "*"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str | None  # None | "blocked" | "not_allowed"
    entry_id: str | None
    scope: str | None  # "inbox" | "org": where the decision was taken
    detail: str


def candidates(address: str) -> list[str]:
    """The values that can match `address`, narrowest first: the address, its domain, parents."""
    address = address.strip().strip("<>").lower()
    local, at, domain = address.rpartition("@")
    if not at:
        domain, local = address, ""
    labels = domain.split(".")
    parents = [".".join(labels[i:]) for i in range(len(labels) - 1)] or [domain]
    return ([address] if local else []) + parents


async def create(
    session: AsyncSession,
    scope: TenantScope,
    *,
    inbox_id: str | None,
    direction: str,
    kind: str,
    value: str,
    note: str = "",
) -> AccessListEntry:
    value = value.strip().lower()
    entry = AccessListEntry(
        id=new_id("acl"), org_id=scope.org_id, inbox_id=inbox_id,
        scope_key=inbox_id or ORG_SCOPE_KEY, direction=direction, kind=kind, value=value,
        value_type="address" if "@" in value else "domain", note=note,
    )  # fmt: skip
    duplicate = await session.scalar(
        select(AccessListEntry.id).where(
            AccessListEntry.org_id == scope.org_id, AccessListEntry.scope_key == entry.scope_key,
            AccessListEntry.direction == direction, AccessListEntry.kind == kind,
            AccessListEntry.value == value,
        )  # fmt: skip
    )
    if duplicate is not None:
        raise Conflict(f"{value} is already on this {kind} list", field="value")
    session.add(entry)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent create of the same entry won the race
        raise Conflict(f"{value} is already on this {kind} list", field="value") from exc
    return entry


def _visible(scope: TenantScope) -> ColumnElement[bool]:
    if scope.sees_all_inboxes:
        return AccessListEntry.org_id == scope.org_id
    # A key limited to some inboxes sees the org-wide entries and those of its inboxes.
    return (AccessListEntry.org_id == scope.org_id) & or_(
        AccessListEntry.inbox_id.is_(None), AccessListEntry.inbox_id.in_(scope.visible_inbox_ids())
    )


async def get(session: AsyncSession, scope: TenantScope, entry_id: str) -> AccessListEntry:
    entry = await session.scalar(
        select(AccessListEntry).where(AccessListEntry.id == entry_id, _visible(scope))
    )
    if entry is None:
        raise NotFound("access list entry not found", field="entry_id")
    return entry


async def list_entries(
    session: AsyncSession,
    scope: TenantScope,
    *,
    inbox_id: str | None,
    scope_filter: str | None,  # "org" | "inbox" | None
    direction: str | None,
    kind: str | None,
    value: str | None,
    limit: int,
    after: str | None,
) -> Page[AccessListEntry]:
    stmt = select(AccessListEntry).where(_visible(scope))
    if scope_filter == "org":
        stmt = stmt.where(AccessListEntry.inbox_id.is_(None))
    elif scope_filter == "inbox":
        stmt = stmt.where(AccessListEntry.inbox_id.is_not(None))
    if inbox_id is not None:
        stmt = stmt.where(AccessListEntry.inbox_id == inbox_id)
    if direction is not None:
        stmt = stmt.where(AccessListEntry.direction == direction)
    if kind is not None:
        stmt = stmt.where(AccessListEntry.kind == kind)
    if value is not None:
        stmt = stmt.where(AccessListEntry.value == value.strip().lower())
    return await paginate(session, stmt, AccessListEntry.id, limit=limit, after=after)


async def remove(session: AsyncSession, entry: AccessListEntry) -> None:
    await session.execute(delete(AccessListEntry).where(AccessListEntry.id == entry.id))


async def has_entries(session: AsyncSession, org_id: str, inbox_id: str, direction: str) -> bool:
    """Whether any entry could apply (one indexed probe; the ingress's fast path)."""
    found = await session.scalar(
        select(AccessListEntry.id).where(
            AccessListEntry.org_id == org_id,
            AccessListEntry.scope_key.in_([inbox_id, ORG_SCOPE_KEY]),
            AccessListEntry.direction == direction,
        ).limit(1)
    )
    return found is not None


async def decide(
    session: AsyncSession, org_id: str, inbox_id: str, direction: str, addresses: list[str]
) -> dict[str, Decision]:
    """A decision per address (keys as given). Two small indexed queries whatever the count:
    the entries that could match, and which scopes hold an allow list."""
    wanted = {a: candidates(a) for a in addresses}
    values = sorted({v for vs in wanted.values() for v in vs})
    in_scope = (
        (AccessListEntry.org_id == org_id)
        & (AccessListEntry.scope_key.in_([inbox_id, ORG_SCOPE_KEY]))
        & (AccessListEntry.direction == direction)
    )
    matches: dict[tuple[str, str], AccessListEntry] = {}
    if values:
        rows = await session.scalars(
            select(AccessListEntry).where(in_scope, AccessListEntry.value.in_(values))
        )
        for row in rows.all():
            # Block beats allow for the very same value at the same scope.
            key = (row.scope_key, row.value)
            if key not in matches or row.kind == "block":
                matches[key] = row
    allow_scopes = set(
        (
            await session.scalars(
                select(AccessListEntry.scope_key)
                .where(in_scope, AccessListEntry.kind == "allow")
                .distinct()
            )
        ).all()
    )
    out: dict[str, Decision] = {}
    for address, values_for in wanted.items():
        out[address] = _decide_one(values_for, matches, allow_scopes, inbox_id)
    return out


def _decide_one(
    values: list[str],
    matches: dict[tuple[str, str], AccessListEntry],
    allow_scopes: set[str],
    inbox_id: str,
) -> Decision:
    for scope_key, scope_name in ((inbox_id, "inbox"), (ORG_SCOPE_KEY, "org")):
        for value in values:
            entry = matches.get((scope_key, value))
            if entry is None:
                continue
            if entry.kind == "allow":
                return Decision(True, None, entry.id, scope_name, f"allowed by {value}")
            return Decision(False, "blocked", entry.id, scope_name,
                            f"{value} is on the {scope_name} block list")  # fmt: skip
        if scope_key in allow_scopes:
            return Decision(False, "not_allowed", None, scope_name,
                            f"not on the {scope_name} allow list")  # fmt: skip
    return Decision(True, None, None, None, "no list applies")
