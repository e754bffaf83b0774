"""Webhook endpoints: create (the `whsec_` secret is shown once), list, read, update, delete,
rotate the secret, send a test event. Delivery history, retries, replay and health are in
api/routes/webhook_deliveries.py; delivering is the engine's (api/actions/webhooks.py).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from litestar import Controller, delete, get, patch, post
from litestar.datastructures import State
from litestar.params import Parameter
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.service import RPCError

from api.actions import webhooks as delivery
from api.audit import audit_action
from api.auth import Principal, requires
from api.errors import ApiError
from api.pagination import DEFAULT_LIMIT, MAX_LIMIT, ListResponse, decode_cursor, to_list_response
from api.webhook_schemas import (
    InboxWebhook,
    RotateSecret,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
    WebhookUpdate,
    checked_url,
)
from contracts import errors
from store import webhooks
from store.errors import Conflict
from store.models import Inbox, WebhookEndpoint
from workflows import ids

log = logging.getLogger("postflow.api")


class WebhookTestOut(BaseModel):
    event_id: str
    delivery_id: str
    workflow_id: str


async def _stop_deliveries(state: State, endpoint: WebhookEndpoint) -> None:
    """Cancel the endpoint's waiting deliveries. Best effort: one that is not canceled finds
    the endpoint gone or disabled at its next attempt and ends `canceled` by itself."""
    try:
        await delivery.cancel_pending(
            state.sessionmaker, state.temporal, endpoint.org_id, endpoint.id
        )
    except (RPCError, TimeoutError, OSError, RuntimeError) as exc:
        log.warning("could not cancel the deliveries of %s: %s", endpoint.id, exc)


def check_inbox_webhook(principal: Principal, state: State, spec: InboxWebhook | None) -> None:
    """The inbox `webhook` shortcut manages an endpoint: it needs webhooks.manage too."""
    if not principal.can("webhooks.manage"):
        raise ApiError(403, errors.FORBIDDEN, "this API key lacks the scope webhooks.manage",
                       [{"field": "webhook", "message": "requires webhooks.manage"}])  # fmt: skip
    if spec is not None:
        checked_url(spec.url, state.settings, field="webhook.url")


async def apply_inbox_webhook(
    db: AsyncSession, principal: Principal, state: State, inbox: Inbox, spec: InboxWebhook | None
) -> WebhookOut | None:
    """Create or update the inbox's own endpoint (filtered to it), or delete it (spec None).
    A new endpoint comes back with its secret; call check_inbox_webhook first."""
    existing = await webhooks.linked_endpoint(db, inbox)
    if spec is None:
        if existing is not None:
            await remove_inbox_webhook(db, principal, state, existing)
        webhooks.link_inbox(inbox, None)
        return None
    if existing is not None:
        changes = {"url": spec.url, "event_types": spec.event_types}
        return WebhookOut.of(await webhooks.update_endpoint(db, existing, changes))
    endpoint, secret = await webhooks.create_endpoint(
        db, principal.org_id, state.settings.master_key_bytes(), url=spec.url,
        description=f"inbox {inbox.address}", event_types=spec.event_types, inbox_ids=[inbox.id],
    )  # fmt: skip
    webhooks.link_inbox(inbox, endpoint.id)
    audit_action(db, principal, "webhook.create", resource_type="webhook", resource_id=endpoint.id,
                 details={"inbox_id": inbox.id})  # fmt: skip
    return WebhookCreated.with_secret(endpoint, secret)


async def remove_inbox_webhook(
    db: AsyncSession, principal: Principal, state: State, endpoint: WebhookEndpoint
) -> None:
    await _stop_deliveries(state, endpoint)
    await webhooks.delete_endpoint(db, endpoint)
    audit_action(db, principal, "webhook.delete", resource_type="webhook", resource_id=endpoint.id)


class WebhookController(Controller):
    path = "/v1/webhooks"
    tags = ["webhooks"]
    guards = [requires("webhooks.manage")]

    @post("/", summary="Create a webhook endpoint (its secret is shown once)")
    async def create(
        self, data: WebhookCreate, db: AsyncSession, principal: Principal, state: State
    ) -> WebhookCreated:
        checked_url(data.url, state.settings)
        inbox_ids = await webhooks.check_inbox_filter(db, principal.scope, data.inbox_ids)
        endpoint, secret = await webhooks.create_endpoint(
            db, principal.org_id, state.settings.master_key_bytes(), url=data.url,
            description=data.description, event_types=data.event_types, inbox_ids=inbox_ids,
            enabled=data.enabled,
        )  # fmt: skip
        audit_action(
            db, principal, "webhook.create", resource_type="webhook", resource_id=endpoint.id
        )
        return WebhookCreated.with_secret(endpoint, secret)

    @get("/", summary="List webhook endpoints, newest first")
    async def list_webhooks(
        self, db: AsyncSession, principal: Principal,
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
        cursor: str | None = Parameter(default=None, max_length=200),
    ) -> ListResponse[WebhookOut]:  # fmt: skip
        page = await webhooks.list_endpoints(
            db, principal.scope, limit=limit, after=decode_cursor(cursor)
        )
        return ListResponse[WebhookOut](**to_list_response(page, WebhookOut.of))

    @get("/{webhook_id:str}", summary="Read a webhook endpoint")
    async def read(self, webhook_id: str, db: AsyncSession, principal: Principal) -> WebhookOut:
        return WebhookOut.of(await webhooks.get_endpoint(db, principal.scope, webhook_id))

    @patch(
        "/{webhook_id:str}", summary="Update url, description, event types, inbox filter, enabled"
    )
    async def update(
        self,
        webhook_id: str,
        data: WebhookUpdate,
        db: AsyncSession,
        principal: Principal,
        state: State,
    ) -> WebhookOut:
        endpoint = await webhooks.get_endpoint(db, principal.scope, webhook_id)
        changes = data.model_dump(exclude_unset=True)
        if "url" in changes:
            checked_url(changes["url"], state.settings)
        if "inbox_ids" in changes:
            changes["inbox_ids"] = await webhooks.check_inbox_filter(
                db, principal.scope, changes["inbox_ids"]
            )
        endpoint = await webhooks.update_endpoint(db, endpoint, changes)
        if changes.get("enabled") is False:
            await _stop_deliveries(state, endpoint)
        audit_action(db, principal, "webhook.update", resource_type="webhook",
                     resource_id=endpoint.id, details={"fields": sorted(changes)})  # fmt: skip
        return WebhookOut.of(endpoint)

    @delete("/{webhook_id:str}", summary="Delete a webhook endpoint and its delivery history")
    async def remove(
        self, webhook_id: str, db: AsyncSession, principal: Principal, state: State
    ) -> None:
        endpoint = await webhooks.get_endpoint(db, principal.scope, webhook_id)
        await _stop_deliveries(state, endpoint)
        await webhooks.delete_endpoint(db, endpoint)
        audit_action(
            db, principal, "webhook.delete", resource_type="webhook", resource_id=webhook_id
        )

    @post("/{webhook_id:str}/rotate-secret", status_code=200,
          summary="New secret (shown once); the old one keeps signing for an overlap")  # fmt: skip
    async def rotate_secret(
        self, webhook_id: str, db: AsyncSession, principal: Principal, state: State,
        data: RotateSecret | None = None,
    ) -> WebhookCreated:  # fmt: skip
        endpoint = await webhooks.get_endpoint(db, principal.scope, webhook_id)
        hours = data.overlap_hours if data is not None else None
        if hours is None:
            hours = state.settings.webhook_secret_overlap_hours
        key = state.settings.master_key_bytes()
        secret = await webhooks.rotate_secret(db, endpoint, key, timedelta(hours=hours))
        audit_action(db, principal, "webhook.rotate_secret", resource_type="webhook",
                     resource_id=endpoint.id, details={"overlap_hours": hours})  # fmt: skip
        return WebhookCreated.with_secret(endpoint, secret)

    @post("/{webhook_id:str}/test", status_code=202,
          summary="Send a `webhook.test` event to this endpoint only")  # fmt: skip
    async def send_test(
        self, webhook_id: str, db: AsyncSession, principal: Principal, state: State
    ) -> WebhookTestOut:
        endpoint = await webhooks.get_endpoint(db, principal.scope, webhook_id)
        if not endpoint.enabled:
            raise Conflict("the webhook endpoint is disabled; enable it first", field="webhook_id")
        # Committed before the workflow starts: its attempt reads the rows.
        async with state.sessionmaker.begin() as session:
            event, test = await webhooks.create_test_delivery(
                session, endpoint, workflow_id_for=ids.webhook_delivery
            )
        # A first start of this delivery's workflow: `retry_delivery` starts exactly one.
        workflow_id = await delivery.retry_delivery(
            state.sessionmaker, state.temporal, state.settings, test.id, org_id=principal.org_id
        )
        return WebhookTestOut(event_id=event.id, delivery_id=test.id, workflow_id=workflow_id)
