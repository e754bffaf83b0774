"""Reading mail: an inbox's messages (cursor-paginated) and one message with its attachments."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from litestar import Controller, get
from litestar.params import Parameter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal, requires
from api.pagination import DEFAULT_LIMIT, MAX_LIMIT, ListResponse, decode_cursor, to_list_response
from store import inboxes, messages
from store.models import Attachment, Message


class AddressOut(BaseModel):
    name: str
    email: str


class AttachmentOut(BaseModel):
    id: str
    filename: str
    content_type: str
    size: int
    sha256: str
    inline: bool
    content_id: str | None

    @classmethod
    def of(cls, a: Attachment) -> AttachmentOut:
        return cls(
            id=a.id, filename=a.filename, content_type=a.content_type, size=a.size,
            sha256=a.sha256, inline=a.inline, content_id=a.content_id,
        )  # fmt: skip


class MessageSummary(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    inbox_id: str
    thread_id: str | None
    direction: str
    status: str
    pipeline_state: str
    subject: str
    from_: AddressOut = Field(alias="from")
    to: list[AddressOut]
    snippet: str
    has_attachments: bool
    is_read: bool
    received_at: datetime
    workflow_id: str | None

    @classmethod
    def fields_of(cls, m: Message) -> dict[str, Any]:
        return dict(
            id=m.id, inbox_id=m.inbox_id, thread_id=m.thread_id, direction=m.direction,
            status=m.status, pipeline_state=m.pipeline_state, subject=m.subject,
            from_=AddressOut(name=m.from_name, email=m.from_address),
            to=[AddressOut(**a) for a in m.to], snippet=m.snippet,
            has_attachments=m.has_attachments, is_read=m.is_read, received_at=m.received_at,
            workflow_id=m.workflow_id,
        )  # fmt: skip

    @classmethod
    def of(cls, m: Message) -> MessageSummary:
        return cls(**cls.fields_of(m))


class MessageOut(MessageSummary):
    message_id: str | None
    in_reply_to: str | None
    references: list[str]
    cc: list[AddressOut]
    reply_to: list[AddressOut]
    envelope_from: str
    envelope_to: list[str]
    headers: list[list[str]]
    text: str | None
    html: str | None
    stripped_text: str | None
    size: int
    sent_at: datetime | None
    labels: list[str]
    is_starred: bool
    is_archived: bool
    attachments: list[AttachmentOut]

    @classmethod
    def full(cls, m: Message, atts: list[Attachment]) -> MessageOut:
        return cls(
            **cls.fields_of(m), message_id=m.message_id_header, in_reply_to=m.in_reply_to,
            references=m.references, cc=[AddressOut(**a) for a in m.cc],
            reply_to=[AddressOut(**a) for a in m.reply_to], envelope_from=m.envelope_from,
            envelope_to=m.envelope_to, headers=m.headers, text=m.text, html=m.html,
            stripped_text=m.stripped_text, size=m.size, sent_at=m.sent_at, labels=m.labels,
            is_starred=m.is_starred, is_archived=m.is_archived,
            attachments=[AttachmentOut.of(a) for a in atts],
        )  # fmt: skip


class MessageController(Controller):
    path = "/v1"
    tags = ["messages"]
    guards = [requires("mail.read")]

    @get("/inboxes/{inbox_id:str}/messages", summary="List an inbox's messages, newest first")
    async def list_messages(
        self,
        inbox_id: str,
        db: AsyncSession,
        principal: Principal,
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
        cursor: str | None = Parameter(default=None, max_length=200),
        direction: Literal["inbound", "outbound"] | None = None,
        since: datetime | None = None,
    ) -> ListResponse[MessageSummary]:
        await inboxes.get_inbox(db, principal.scope, inbox_id)  # 404 for invisible inboxes
        page = await messages.list_for_inbox(
            db, principal.scope, inbox_id, messages.MessageFilter(direction=direction, since=since),
            limit=limit, after=decode_cursor(cursor),
        )  # fmt: skip
        return ListResponse[MessageSummary](**to_list_response(page, MessageSummary.of))

    @get("/messages/{message_id:str}", summary="Read a message with its attachments")
    async def read(self, message_id: str, db: AsyncSession, principal: Principal) -> MessageOut:
        msg = await messages.get_message(db, principal.scope, message_id)
        return MessageOut.full(msg, await messages.attachments_of(db, msg))
