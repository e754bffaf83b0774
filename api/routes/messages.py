"""Reading and managing mail: list with filters, read, flag, delete, raw RFC 5322 bytes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from litestar import Controller, Response, delete, get, patch
from litestar.datastructures import State
from litestar.params import Parameter, QueryParameter
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import audit_action
from api.auth import Principal, requires
from api.pagination import DEFAULT_LIMIT, MAX_LIMIT, ListResponse, decode_cursor, to_list_response
from contracts.messages import MessageSummaryView, MessageView
from store import inboxes, messages
from store.views import message_summary, message_view


class MessageUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    is_read: bool | None = None
    is_starred: bool | None = None
    is_archived: bool | None = None


class MessageController(Controller):
    path = "/v1"
    tags = ["messages"]
    guards = [requires("mail.read")]

    @get("/inboxes/{inbox_id:str}/messages", summary="List an inbox's messages, newest first")
    async def list_messages(
        self, inbox_id: str, db: AsyncSession, principal: Principal,
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
        cursor: str | None = Parameter(default=None, max_length=200),
        direction: Literal["inbound", "outbound"] | None = None,
        since: datetime | None = None,
        from_: str | None = QueryParameter(name="from", default=None, max_length=320,
                                      description="substring of the sender address or name"),
        subject: str | None = Parameter(default=None, max_length=500, description="substring"),
        category: str | None = Parameter(default=None, max_length=30),
        unread: bool | None = None,
    ) -> ListResponse[MessageSummaryView]:  # fmt: skip
        await inboxes.get_inbox(db, principal.scope, inbox_id)  # 404 for invisible inboxes
        flt = messages.MessageFilter(direction=direction, since=since, from_=from_, subject=subject,
                                     category=category, unread=unread)  # fmt: skip
        page = await messages.list_for_inbox(db, principal.scope, inbox_id, flt, limit=limit,
                                             after=decode_cursor(cursor))  # fmt: skip
        return ListResponse[MessageSummaryView](**to_list_response(page, message_summary))

    @get("/messages/{message_id:str}", summary="Read a message with its attachments")
    async def read(self, message_id: str, db: AsyncSession, principal: Principal) -> MessageView:
        msg = await messages.get_message(db, principal.scope, message_id)
        return message_view(msg, await messages.attachments_of(db, msg))

    @patch("/messages/{message_id:str}", guards=[requires("mail.manage")], summary="Set read/starred/archived")
    async def update(
        self, message_id: str, data: MessageUpdate, db: AsyncSession, principal: Principal
    ) -> MessageView:
        msg = await messages.get_message(db, principal.scope, message_id)
        for field, value in data.model_dump(exclude_unset=True).items():
            if value is not None:
                setattr(msg, field, value)
        await db.flush()
        return message_view(msg, await messages.attachments_of(db, msg))

    @delete("/messages/{message_id:str}", guards=[requires("mail.manage")], summary="Delete a message")
    async def remove(self, message_id: str, db: AsyncSession, principal: Principal) -> None:
        msg = await messages.get_message(db, principal.scope, message_id)
        await messages.delete_message(db, msg)
        audit_action(db, principal, "message.delete", resource_type="message", resource_id=message_id)

    @get("/messages/{message_id:str}/raw", summary="The message as received (RFC 5322 bytes)",
         media_type="message/rfc822")  # fmt: skip
    async def raw(self, message_id: str, db: AsyncSession, principal: Principal, state: State) -> Response[bytes]:
        msg = await messages.get_message(db, principal.scope, message_id)
        data = state.blobs.get(msg.raw_sha256) if msg.raw_sha256 else b""
        return Response(data, media_type="message/rfc822",
                        headers={"Content-Disposition": f'attachment; filename="{msg.id}.eml"'})  # fmt: skip
