"""Mail tools for MCP clients and the agent chat. Each handler is a thin adapter over the same
service functions the REST routes call (api/actions/*); no second code path."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.actions import audit as audit_actions
from api.actions import inboxes as inbox_actions
from api.actions import messages as message_actions
from api.actions import threads as thread_actions
from api.actions import waits as wait_actions
from api.actions.waits import OtpView
from api.mcp.registry import Tool, ToolContext
from api.pagination import decode_cursor, encode_cursor
from api.routes.inboxes import DOMAIN, LOCAL_PART, InboxOut
from contracts.messages import MessageView, ThreadWithMessagesView
from contracts.waits import WaitFilters
from store import messages
from store.pagination import Page

Id = Field(min_length=1, max_length=64)


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ListArgs(_Args):
    limit: int = Field(20, ge=1, le=100)
    cursor: str | None = Field(None, max_length=200, description="next_cursor of the previous page")


class CreateInboxArgs(_Args):
    local_part: str | None = Field(None, pattern=LOCAL_PART, max_length=64, description="random if omitted")
    name: str = Field("", max_length=200)
    domain: str | None = Field(None, pattern=DOMAIN, max_length=253, description="default domain if omitted")


class InboxListArgs(ListArgs):
    inbox_id: str = Id


class ThreadListArgs(InboxListArgs):
    order: Literal["desc", "asc"] = "desc"


class MessageListArgs(InboxListArgs):
    from_: str | None = Field(None, alias="from", max_length=320, description="substring of the sender")
    subject: str | None = Field(None, max_length=500, description="substring of the subject")
    category: str | None = Field(None, max_length=30)
    unread: bool | None = None
    direction: Literal["inbound", "outbound"] | None = None


class ThreadArgs(_Args):
    thread_id: str = Id


class MessageArgs(_Args):
    message_id: str = Id


class WaitArgs(_Args):
    inbox_id: str = Id
    from_: str | None = Field(None, alias="from", max_length=320, description="substring of the sender")
    subject: str | None = Field(None, max_length=500, description="substring of the subject")
    timeout_seconds: int = Field(60, ge=1, le=300, description="give up after this long (max 300)")


class LabelArgs(_Args):
    message_id: str = Id
    add_labels: list[str] = Field(default_factory=list, max_length=50)
    remove_labels: list[str] = Field(default_factory=list, max_length=50)
    is_read: bool | None = None
    is_starred: bool | None = None
    is_archived: bool | None = None


def _page(page: Page[Any], render: Any = lambda v: v) -> dict[str, Any]:
    data = [render(i) for i in page.items]
    data = [d.model_dump(mode="json", by_alias=True) if isinstance(d, BaseModel) else d for d in data]
    return {"data": data, "next_cursor": encode_cursor(page.next_after), "has_more": page.next_after is not None}


async def list_inboxes(ctx: ToolContext, a: ListArgs) -> dict[str, Any]:
    async with ctx.sessionmaker() as db:
        return _page(await inbox_actions.list_visible(db, ctx.principal, limit=a.limit,
                                                      after=decode_cursor(a.cursor)), InboxOut.of)  # fmt: skip


async def create_inbox(ctx: ToolContext, a: CreateInboxArgs) -> InboxOut:
    async with ctx.sessionmaker.begin() as db:
        inbox = await inbox_actions.create(db, ctx.principal, local_part=a.local_part, name=a.name, domain=a.domain)
        return InboxOut.of(inbox)


async def list_threads(ctx: ToolContext, a: ThreadListArgs) -> dict[str, Any]:
    async with ctx.sessionmaker() as db:
        return _page(await thread_actions.list_for_inbox(db, ctx.principal, a.inbox_id, limit=a.limit,
                                                         after=decode_cursor(a.cursor), ascending=a.order == "asc"))  # fmt: skip


async def list_messages(ctx: ToolContext, a: MessageListArgs) -> dict[str, Any]:
    flt = messages.MessageFilter(direction=a.direction, since=None, from_=a.from_, subject=a.subject,
                                 category=a.category, unread=a.unread)  # fmt: skip
    async with ctx.sessionmaker() as db:
        return _page(await message_actions.list_for_inbox(db, ctx.principal, a.inbox_id, flt, limit=a.limit,
                                                          after=decode_cursor(a.cursor)))  # fmt: skip


async def read_thread(ctx: ToolContext, a: ThreadArgs) -> ThreadWithMessagesView:
    async with ctx.sessionmaker() as db:
        return await thread_actions.read(db, ctx.principal, a.thread_id)


async def read_message(ctx: ToolContext, a: MessageArgs) -> MessageView:
    async with ctx.sessionmaker() as db:
        return await message_actions.read(db, ctx.principal, a.message_id)


def _wait_filters(a: WaitArgs) -> WaitFilters:
    return WaitFilters(from_=a.from_, subject=a.subject)


async def wait_for_mail(ctx: ToolContext, a: WaitArgs) -> MessageView:
    return await wait_actions.wait_for_mail(
        ctx.sessionmaker, ctx.temporal, ctx.settings, ctx.principal, inbox_id=a.inbox_id,
        filters=_wait_filters(a), since=None, timeout_seconds=a.timeout_seconds,
        timeout_field="timeout_seconds",
    )  # fmt: skip


async def wait_for_otp(ctx: ToolContext, a: WaitArgs) -> OtpView:
    return await wait_actions.wait_for_otp(
        ctx.sessionmaker, ctx.temporal, ctx.settings, ctx.principal, inbox_id=a.inbox_id,
        filters=_wait_filters(a), since=None, timeout_seconds=a.timeout_seconds,
        timeout_field="timeout_seconds",
    )  # fmt: skip


async def label_message(ctx: ToolContext, a: LabelArgs) -> MessageView:
    flags = {k: v for k, v in (("is_read", a.is_read), ("is_starred", a.is_starred),
                               ("is_archived", a.is_archived)) if v is not None}  # fmt: skip
    async with ctx.sessionmaker.begin() as db:
        return await message_actions.update(db, ctx.principal, a.message_id, flags=flags,
                                            add_labels=a.add_labels, remove_labels=a.remove_labels)  # fmt: skip


async def delete_message(ctx: ToolContext, a: MessageArgs) -> dict[str, Any]:
    async with ctx.sessionmaker.begin() as db:
        await message_actions.remove(db, ctx.principal, a.message_id)
    return {"deleted": a.message_id}


class AuditArgs(ListArgs, audit_actions.AuditQuery):
    pass


async def audit_review(ctx: ToolContext, a: AuditArgs) -> dict[str, Any]:
    fields = set(audit_actions.AuditQuery.model_fields)
    query = audit_actions.AuditQuery.model_validate(a.model_dump(include=fields))
    async with ctx.sessionmaker() as db:
        page = await audit_actions.review(db, ctx.principal, limit=a.limit,
                                          after=decode_cursor(a.cursor), query=query)  # fmt: skip
        return _page(page)


READ = ("mail.read",)
MAIL_TOOLS: list[Tool] = [
    Tool("list_inboxes", "List inboxes", "The inboxes this API key can see (id, address, name).",
         ("mail.read", "inboxes.manage"), ListArgs, list_inboxes, read_only=True, idempotent=True),
    Tool("create_inbox", "Create an inbox", "Create a new inbox (email address) in your organization.",
         ("inboxes.manage",), CreateInboxArgs, create_inbox, read_only=False),
    Tool("list_threads", "List threads", "An inbox's conversations, newest first.",
         READ, ThreadListArgs, list_threads, read_only=True, idempotent=True),
    Tool("list_messages", "List messages", "An inbox's messages, newest first, with optional filters.",
         READ, MessageListArgs, list_messages, read_only=True, idempotent=True),
    Tool("read_thread", "Read a thread", "One conversation with all its messages, oldest first.",
         READ, ThreadArgs, read_thread, read_only=True, idempotent=True, output=ThreadWithMessagesView),
    Tool("read_message", "Read a message", "One message: headers, text, codes and links, attachments.",
         READ, MessageArgs, read_message, read_only=True, idempotent=True, output=MessageView),
    Tool("wait_for_mail", "Wait for mail", "Block until the next matching message arrives in an inbox "
         "(or timeout_seconds pass: an error with code wait_timeout).",
         READ, WaitArgs, wait_for_mail, read_only=True, open_world=True, output=MessageView, max_seconds=330),
    Tool("wait_for_otp", "Wait for a one-time code", "Block until a message with a one-time code arrives; "
         "returns the code. Mail that arrived before the call does not count.",
         READ, WaitArgs, wait_for_otp, read_only=True, open_world=True, output=OtpView, max_seconds=330),
    Tool("label_message", "Tag or flag a message", "Add or remove labels and set read/starred/archived.",
         ("mail.manage",), LabelArgs, label_message, read_only=False, idempotent=True),
    Tool("delete_message", "Delete a message", "Delete a message and its attachments for good.",
         ("mail.manage",), MessageArgs, delete_message, read_only=False, destructive=True, idempotent=True),
    Tool("audit_review", "Review the audit log", "Your organization's audit log, newest first, "
         "optionally filtered by actor, action, resource and time (as GET /v1/audit).",
         ("analytics.read",), AuditArgs, audit_review, read_only=True, idempotent=True),
]  # fmt: skip
