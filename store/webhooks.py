"""Webhook endpoints: create (with a sealed `whsec_` secret), read, list, update, delete,
rotate the secret, and the targeted delivery of a test event. Visibility: an endpoint belongs
to its organization; a key that does not see every inbox manages only endpoints filtered to
inboxes it sees. Dispatching and attempting deliveries is store.webhook_deliveries'.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.events import TestEventData
from crypto.sealing import seal
from crypto.webhook_signing import generate_secret
from store import events
from store.base import new_id, utcnow
from store.errors import Invalid, NotFound
from store.models import Event, Inbox, WebhookDelivery, WebhookEndpoint
from store.pagination import Page
from store.scope import TenantScope

SEAL_PURPOSE = "webhook-secret"
# Inbox setting naming the endpoint its `webhook` shortcut created (so an update edits it).
INBOX_LINK = "webhook_endpoint_id"
# A key that sees only some inboxes scans endpoints in chunks and keeps those it may see.
_SCAN_CHUNK = 200


async def visible_inbox_ids(session: AsyncSession, scope: TenantScope) -> set[str]:
    return {str(inbox_id) for inbox_id in (await session.scalars(scope.visible_inbox_ids())).all()}


async def check_inbox_filter(
    session: AsyncSession, scope: TenantScope, inbox_ids: list[str] | None
) -> list[str] | None:
    """The inbox filter an endpoint may have: every id visible to the key; `None` (every
    inbox, including future ones) only for a key that sees every inbox."""
    if inbox_ids is None:
        if not scope.sees_all_inboxes:
            raise Invalid("this API key sees only some inboxes: name them in inbox_ids",
                          field="inbox_ids")  # fmt: skip
        return None
    stmt = select(Inbox.id).where(Inbox.id.in_(inbox_ids), scope.inbox_filter())
    found = {str(inbox_id) for inbox_id in (await session.scalars(stmt)).all()}
    for inbox_id in inbox_ids:
        if inbox_id not in found:
            raise NotFound(f"inbox {inbox_id} not found", field="inbox_ids")
    return list(dict.fromkeys(inbox_ids))


def _sees(endpoint: WebhookEndpoint, visible: set[str] | None) -> bool:
    if visible is None:  # the key sees every inbox
        return True
    return endpoint.inbox_ids is not None and set(endpoint.inbox_ids) <= visible


async def create_endpoint(
    session: AsyncSession,
    org_id: str,
    master_key: bytes,
    *,
    url: str,
    description: str,
    event_types: list[str],
    inbox_ids: list[str] | None,
    enabled: bool = True,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret in clear (shown once; only the sealed form is stored)."""
    secret = generate_secret()
    endpoint = WebhookEndpoint(
        id=new_id("wh"), org_id=org_id, url=url, description=description,
        event_types=list(event_types), inbox_ids=inbox_ids, enabled=enabled,
        disabled_reason=None if enabled else "disabled by API",
        secret_sealed=seal(master_key, secret, SEAL_PURPOSE), consecutive_failures=0,
    )  # fmt: skip
    session.add(endpoint)
    await session.flush()
    return endpoint, secret


async def get_endpoint(
    session: AsyncSession, scope: TenantScope, endpoint_id: str
) -> WebhookEndpoint:
    endpoint = await session.scalar(select(WebhookEndpoint).where(
        WebhookEndpoint.id == endpoint_id, WebhookEndpoint.org_id == scope.org_id
    ))  # fmt: skip
    visible = None if scope.sees_all_inboxes else await visible_inbox_ids(session, scope)
    if endpoint is None or not _sees(endpoint, visible):
        raise NotFound("webhook endpoint not found", field="webhook_id")
    return endpoint


async def list_endpoints(
    session: AsyncSession, scope: TenantScope, *, limit: int, after: str | None
) -> Page[WebhookEndpoint]:
    """Newest first; for a key limited to some inboxes, only endpoints filtered to them."""
    visible = None if scope.sees_all_inboxes else await visible_inbox_ids(session, scope)
    chunk_size = limit + 1 if visible is None else _SCAN_CHUNK
    kept: list[WebhookEndpoint] = []
    cursor = after
    while len(kept) <= limit:  # one more than asked for: it tells whether there is more
        stmt = select(WebhookEndpoint).where(WebhookEndpoint.org_id == scope.org_id)
        if cursor is not None:
            stmt = stmt.where(WebhookEndpoint.id < cursor)
        stmt = stmt.order_by(WebhookEndpoint.id.desc()).limit(chunk_size)
        chunk = list((await session.scalars(stmt)).all())
        kept += [e for e in chunk if _sees(e, visible)]
        if len(chunk) < chunk_size:
            break
        cursor = chunk[-1].id
    more = len(kept) > limit
    kept = kept[:limit]
    return Page(items=kept, next_after=kept[-1].id if more and kept else None)


async def visible_endpoints(session: AsyncSession, scope: TenantScope) -> list[WebhookEndpoint]:
    """Every endpoint of the organization the key may see, oldest first (health, filters)."""
    visible = None if scope.sees_all_inboxes else await visible_inbox_ids(session, scope)
    rows = (await session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.org_id == scope.org_id)
        .order_by(WebhookEndpoint.id)
    )).all()  # fmt: skip
    return [e for e in rows if _sees(e, visible)]


def apply_changes(endpoint: WebhookEndpoint, changes: dict[str, Any]) -> None:
    """Set fields; re-enabling clears the failure run and the disabled reason."""
    for field, value in changes.items():
        setattr(endpoint, field, value)
    if "enabled" in changes:
        if changes["enabled"]:
            endpoint.disabled_reason = None
            endpoint.failing_since = None
            endpoint.consecutive_failures = 0
        elif endpoint.disabled_reason is None:
            endpoint.disabled_reason = "disabled by API"
    endpoint.updated_at = utcnow()


async def update_endpoint(
    session: AsyncSession, endpoint: WebhookEndpoint, changes: dict[str, Any]
) -> WebhookEndpoint:
    apply_changes(endpoint, changes)
    await session.flush()
    return endpoint


async def delete_endpoint(session: AsyncSession, endpoint: WebhookEndpoint) -> None:
    """Deletes the endpoint with its deliveries and attempts (foreign keys cascade)."""
    await session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint.id))


async def linked_endpoint(session: AsyncSession, inbox: Inbox) -> WebhookEndpoint | None:
    """The endpoint made by the inbox's `webhook` shortcut, if it still exists."""
    endpoint_id = (inbox.settings or {}).get(INBOX_LINK)
    if not endpoint_id:
        return None
    return await session.scalar(select(WebhookEndpoint).where(
        WebhookEndpoint.id == endpoint_id, WebhookEndpoint.org_id == inbox.org_id
    ))  # fmt: skip


def link_inbox(inbox: Inbox, endpoint_id: str | None) -> None:
    settings = {k: v for k, v in (inbox.settings or {}).items() if k != INBOX_LINK}
    inbox.settings = {**settings, INBOX_LINK: endpoint_id} if endpoint_id else settings


async def create_test_delivery(
    session: AsyncSession, endpoint: WebhookEndpoint, *, workflow_id_for: Callable[[str], str]
) -> tuple[Event, WebhookDelivery]:
    """A `webhook.test` event and its delivery to this endpoint only, whatever the endpoint's
    filters (dispatching would fan it out to every endpoint subscribed to it)."""
    data = TestEventData(endpoint_id=endpoint.id, message="This is a test event from Postflow.")
    event = await events.emit(
        session, org_id=endpoint.org_id, inbox_id=None, type="webhook.test",
        resource_id=new_id("whtest"), payload=data.model_dump(mode="json"),
    )  # fmt: skip
    delivery_id = new_id("whd")
    delivery = WebhookDelivery(
        id=delivery_id, org_id=endpoint.org_id, endpoint_id=endpoint.id, event_id=event.id,
        event_type=event.type, status="pending", attempt_count=0, next_attempt_at=utcnow(),
        workflow_id=workflow_id_for(delivery_id),
    )  # fmt: skip
    session.add(delivery)
    await session.flush()
    return event, delivery


async def rotate_secret(
    session: AsyncSession, endpoint: WebhookEndpoint, master_key: bytes, overlap: timedelta
) -> str:
    """A new secret (returned in clear, once); the current one keeps signing for `overlap`.

    A rotation during an earlier overlap drops the oldest secret at once: at most two sign.
    """
    secret = generate_secret()
    if overlap > timedelta(0):
        endpoint.previous_secret_sealed = endpoint.secret_sealed
        endpoint.previous_secret_expires_at = utcnow() + overlap
    else:
        endpoint.previous_secret_sealed = None
        endpoint.previous_secret_expires_at = None
    endpoint.secret_sealed = seal(master_key, secret, SEAL_PURPOSE)
    endpoint.updated_at = utcnow()
    await session.flush()
    return secret
