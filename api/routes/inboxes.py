"""Inboxes: create on the default (or an own) domain, list, read, update, delete; the `webhook`
shortcut gives an inbox its own webhook endpoint (api/routes/webhooks.py does the work)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Controller, delete, get, patch, post
from litestar.datastructures import State
from litestar.params import Parameter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from api.actions import inboxes as inbox_actions
from api.audit import audit_action
from api.auth import Principal, requires
from api.pagination import DEFAULT_LIMIT, MAX_LIMIT, ListResponse, decode_cursor, to_list_response
from api.routes.webhooks import apply_inbox_webhook, check_inbox_webhook, remove_inbox_webhook
from api.webhook_schemas import InboxWebhook, WebhookCreated, WebhookOut
from store import inboxes, webhooks
from store.models import Inbox

# A conservative dot-atom: what every MTA and mail client accepts as a local part.
LOCAL_PART = r"^[A-Za-z0-9](?:[A-Za-z0-9._+-]{0,62}[A-Za-z0-9])?$"
DOMAIN = r"^([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"


WEBHOOK_HELP = ("shortcut: a webhook endpoint filtered to this inbox (needs webhooks.manage); "
                "on update, null deletes it")  # fmt: skip


class InboxCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    local_part: str | None = Field(None, pattern=LOCAL_PART, max_length=64)
    name: str = Field("", max_length=200)
    domain: str | None = Field(None, pattern=DOMAIN, max_length=253)
    webhook: InboxWebhook | None = Field(None, description=WEBHOOK_HELP)


class InboxUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=200)
    webhook: InboxWebhook | None = Field(None, description=WEBHOOK_HELP)


class InboxOut(BaseModel):
    id: str
    address: str
    local_part: str
    name: str
    department_id: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, i: Inbox) -> InboxOut:
        return cls(
            id=i.id, address=i.address, local_part=i.local_part, name=i.name,
            department_id=i.department_id, created_at=i.created_at, updated_at=i.updated_at,
        )  # fmt: skip


class InboxWithWebhookOut(InboxOut):
    webhook: WebhookCreated | WebhookOut | None = Field(
        None, description="the inbox's endpoint if the request set `webhook` (new: with secret)"
    )


class InboxController(Controller):
    path = "/v1/inboxes"
    tags = ["inboxes"]

    @post("/", guards=[requires("inboxes.manage")], summary="Create an inbox (409 when taken)")
    async def create(
        self, data: InboxCreate, db: AsyncSession, principal: Principal, state: State
    ) -> InboxWithWebhookOut:
        if data.webhook is not None:
            check_inbox_webhook(principal, state, data.webhook)
        inbox = await inbox_actions.create(db, principal, local_part=data.local_part,
                                           name=data.name, domain=data.domain)  # fmt: skip
        hook = None
        if data.webhook is not None:
            hook = await apply_inbox_webhook(db, principal, state, inbox, data.webhook)
        return InboxWithWebhookOut(**InboxOut.of(inbox).model_dump(), webhook=hook)

    @get("/", guards=[requires("mail.read", "inboxes.manage")], summary="List visible inboxes")
    async def list_inboxes(
        self,
        db: AsyncSession,
        principal: Principal,
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
        cursor: str | None = Parameter(default=None, max_length=200),
    ) -> ListResponse[InboxOut]:
        page = await inbox_actions.list_visible(db, principal, limit=limit, after=decode_cursor(cursor))
        return ListResponse[InboxOut](**to_list_response(page, InboxOut.of))

    @get("/{inbox_id:str}", guards=[requires("mail.read", "inboxes.manage")], summary="Read an inbox")
    async def read(self, inbox_id: str, db: AsyncSession, principal: Principal) -> InboxOut:
        return InboxOut.of(await inboxes.get_inbox(db, principal.scope, inbox_id))

    @patch("/{inbox_id:str}", guards=[requires("inboxes.manage")], summary="Update an inbox")
    async def update(
        self, inbox_id: str, data: InboxUpdate, db: AsyncSession, principal: Principal, state: State
    ) -> InboxWithWebhookOut:
        inbox = await inboxes.get_inbox(db, principal.scope, inbox_id)
        set_webhook = "webhook" in data.model_fields_set
        if set_webhook:
            check_inbox_webhook(principal, state, data.webhook)
        fields = data.model_dump(exclude_unset=True, exclude={"webhook"})
        changes: dict[str, Any] = {k: v for k, v in fields.items() if v is not None}
        inbox = await inboxes.update_inbox(db, inbox, changes)
        hook = None
        if set_webhook:
            hook = await apply_inbox_webhook(db, principal, state, inbox, data.webhook)
        audit_action(db, principal, "inbox.update", resource_type="inbox", resource_id=inbox.id,
                     details={"fields": sorted(changes) + ["webhook"] * set_webhook})  # fmt: skip
        return InboxWithWebhookOut(**InboxOut.of(inbox).model_dump(), webhook=hook)

    @delete("/{inbox_id:str}", guards=[requires("inboxes.manage")], summary="Delete an inbox and its mail")
    async def remove(
        self, inbox_id: str, db: AsyncSession, principal: Principal, state: State
    ) -> None:
        inbox = await inboxes.get_inbox(db, principal.scope, inbox_id)
        # The endpoint its `webhook` shortcut made goes with it (it could receive nothing else).
        if (endpoint := await webhooks.linked_endpoint(db, inbox)) is not None:
            await remove_inbox_webhook(db, principal, state, endpoint)
        await inboxes.delete_inbox(db, inbox)
        audit_action(db, principal, "inbox.delete", resource_type="inbox", resource_id=inbox_id)
