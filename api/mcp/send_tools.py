"""Sending tools (send, reply, forward) over the outbound service (api/actions/outbound.py):
the same validation, idempotency, rate limits and approval gate as `POST /v1/messages/send`."""

from __future__ import annotations

from pydantic import Field

from api.actions.outbound import Outbound
from api.mcp.registry import Tool, ToolContext
from contracts.sending import ForwardRequest, OutboundView, ReplyRequest, SendRequest

SEND = ("mail.send",)


class ReplyArgs(ReplyRequest):
    message_id: str = Field(min_length=1, max_length=64, description="the message to reply to")


class ForwardArgs(ForwardRequest):
    message_id: str = Field(min_length=1, max_length=64, description="the message to forward")


def _outbound(ctx: ToolContext) -> Outbound:
    return Outbound(ctx.sessionmaker, ctx.blobs, ctx.temporal, ctx.settings)


async def send_message(ctx: ToolContext, a: SendRequest) -> OutboundView:
    return (await _outbound(ctx).send(ctx.principal, a, ctx.idempotency_key)).view


async def reply(ctx: ToolContext, a: ReplyArgs) -> OutboundView:
    req = ReplyRequest.model_validate(a.model_dump(exclude={"message_id"}))
    return (await _outbound(ctx).reply(ctx.principal, a.message_id, req, ctx.idempotency_key)).view


async def forward(ctx: ToolContext, a: ForwardArgs) -> OutboundView:
    req = ForwardRequest.model_validate(a.model_dump(exclude={"message_id"}))
    return (await _outbound(ctx).forward(ctx.principal, a.message_id, req, ctx.idempotency_key)).view


# Every sending tool may be held for a human; the model must not assume the mail went out.
APPROVAL = (
    " The mail may be held for approval instead of sent: by the inbox's approval gate "
    "(its send settings require approval), by require_approval on this call, or because the "
    "API key was created with requires_approval. The result's status says what happened: "
    "awaiting_approval (held until someone with mail.approve approves it; requires_approval is "
    "then true), scheduled (send_at in the future) or queued (going out now)."
)

SEND_TOOLS: list[Tool] = [
    Tool("send_message", "Send an email", "Send a new message from an inbox, or schedule it with "
         "send_at (ISO 8601 with offset); with send_unless_replied (needs thread_id) a scheduled "
         "message is skipped if the thread got a reply by then." + APPROVAL,
         SEND, SendRequest, send_message, read_only=False, open_world=True),
    Tool("reply", "Reply to a message", "Reply in the message's thread (reply_all adds the other "
         "recipients); send_at and send_unless_replied schedule a follow-up." + APPROVAL,
         SEND, ReplyArgs, reply, read_only=False, open_world=True),
    Tool("forward", "Forward a message", "Forward a message to new recipients, mode inline (quoted "
         "below the comment) or attachment (as message/rfc822); send_at schedules it." + APPROVAL,
         SEND, ForwardArgs, forward, read_only=False, open_world=True),
]  # fmt: skip
