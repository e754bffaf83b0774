"""Reading and managing mail: list with filters, read, flag, delete, raw RFC 5322 bytes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from litestar import Controller, Response, delete, get, patch
from litestar.datastructures import State
from litestar.params import Parameter, QueryParameter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from api.actions import messages as message_actions
from api.auth import Principal, requires
from api.pagination import DEFAULT_LIMIT, MAX_LIMIT, ListResponse, decode_cursor, to_list_response
from contracts.messages import MessageSummaryView, MessageView
from store import messages


class MessageUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    is_read: bool | None = None
    is_starred: bool | None = None
    is_archived: bool | None = None
    add_labels: list[str] = Field(default_factory=list, max_length=50)
    remove_labels: list[str] = Field(default_factory=list, max_length=50)
    send_at: datetime | None = Field(None, description="Reschedule an unsent outbound message (mail.send)")


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
        prompt_injection_max_score: float | None = Parameter(
            default=None, ge=0, le=1, description="only screened messages scoring at most this"),
    ) -> ListResponse[MessageSummaryView]:  # fmt: skip
        flt = messages.MessageFilter(direction=direction, since=since, from_=from_, subject=subject,
                                     category=category, unread=unread,
                                     injection_max_score=prompt_injection_max_score)  # fmt: skip
        page = await message_actions.list_for_inbox(db, principal, inbox_id, flt, limit=limit,
                                                    after=decode_cursor(cursor))  # fmt: skip
        return ListResponse[MessageSummaryView](**to_list_response(page, lambda v: v))

    @get("/messages/{message_id:str}", summary="Read a message with its attachments")
    async def read(self, message_id: str, db: AsyncSession, principal: Principal) -> MessageView:
        return await message_actions.read(db, principal, message_id)

    @patch("/messages/{message_id:str}", guards=[requires("mail.manage", "mail.send")], summary="Set read/starred/archived; add or remove labels; reschedule (send_at)")
    async def update(
        self, message_id: str, data: MessageUpdate, db: AsyncSession, principal: Principal, state: State
    ) -> MessageView:
        from api.actions.outbound_control import patch_message

        if (view := await patch_message(state, principal, message_id, data.model_fields_set, data.send_at)):
            return view  # send_at: the OutboundMail workflow decides (409 once handed off)
        flags = data.model_dump(exclude_unset=True, exclude={"add_labels", "remove_labels", "send_at"})
        return await message_actions.update(
            db, principal, message_id, flags={k: v for k, v in flags.items() if v is not None},
            add_labels=data.add_labels, remove_labels=data.remove_labels,
        )  # fmt: skip

    @delete("/messages/{message_id:str}", guards=[requires("mail.manage")], summary="Delete a message")
    async def remove(self, message_id: str, db: AsyncSession, principal: Principal, state: State) -> None:
        from search.indexer import remove_message

        inbox_id = (await messages.get_message(db, principal.scope, message_id)).inbox_id
        await message_actions.remove(db, principal, message_id)
        await remove_message(db, state.settings, inbox_id, message_id)  # vectors + keyword rows

    @get("/messages/{message_id:str}/raw", summary="The message as received (RFC 5322 bytes)",
         media_type="message/rfc822")  # fmt: skip
    async def raw(self, message_id: str, db: AsyncSession, principal: Principal, state: State) -> Response[bytes]:
        msg = await messages.get_message(db, principal.scope, message_id)
        data = state.blobs.get(msg.raw_sha256) if msg.raw_sha256 else b""
        return Response(data, media_type="message/rfc822",
                        headers={"Content-Disposition": f'attachment; filename="{msg.id}.eml"'})  # fmt: skip
