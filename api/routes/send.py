"""Sending over REST: compose, reply, forward, cancel, reschedule, approve, reject, the
delivery state of a message, and an inbox's send settings (signature, approval). The work is
in api/actions/outbound*.py (shared with MCP); this module only shapes HTTP: the
Idempotency-Key header in, `Idempotent-Replayed` and `X-RateLimit-*` headers out."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post, put
from litestar.datastructures import State
from litestar.params import HeaderParameter
from sqlalchemy.ext.asyncio import AsyncSession

from api.actions import outbound_control as control
from api.actions.outbound import Outbound, SendOutcome
from api.actions.outbound_store import RateLimitedError
from api.audit import audit_action
from api.auth import Principal, requires
from api.errors import error_response
from contracts.sending import (
    ApproveRequest,
    CancelRequest,
    ForwardRequest,
    OutboundView,
    RejectRequest,
    ReplyRequest,
    RescheduleRequest,
    SendRequest,
    SendSettings,
)
from store import inboxes

IDEMPOTENCY = HeaderParameter(name="Idempotency-Key", default=None, min_length=1, max_length=255,
                        description="Same key + same body: the original message (Idempotent-Replayed)")


def _respond(outcome: SendOutcome) -> Response[Any]:
    headers = dict(outcome.rate_headers)
    if outcome.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(outcome.view.model_dump(mode="json", by_alias=True), status_code=202,
                    headers=headers)  # fmt: skip


def _limited(exc: RateLimitedError) -> Response[Any]:
    resp = error_response(exc.status_code, exc.code, exc.detail, exc.details)
    resp.headers.update(exc.headers)  # type: ignore[arg-type]
    return resp


class SendController(Controller):
    path = "/v1"
    tags = ["sending"]

    @post("/messages/send", guards=[requires("mail.send")], status_code=202,
          summary="Send or schedule a message (202: the OutboundMail workflow owns it)")  # fmt: skip
    async def send(self, data: SendRequest, state: State, principal: Principal,
                   idempotency_key: str | None = IDEMPOTENCY) -> Response[OutboundView]:  # fmt: skip
        try:
            return _respond(await Outbound.of(state).send(principal, data, idempotency_key))
        except RateLimitedError as exc:
            return _limited(exc)

    @post("/messages/{message_id:str}/reply", guards=[requires("mail.send")], status_code=202,
          summary="Reply (In-Reply-To/References set; reply_all adds the other recipients)")  # fmt: skip
    async def reply(self, message_id: str, data: ReplyRequest, state: State, principal: Principal,
                    idempotency_key: str | None = IDEMPOTENCY) -> Response[OutboundView]:  # fmt: skip
        try:
            return _respond(await Outbound.of(state).reply(principal, message_id, data, idempotency_key))
        except RateLimitedError as exc:
            return _limited(exc)

    @post("/messages/{message_id:str}/forward", guards=[requires("mail.send")], status_code=202,
          summary="Forward (original inlined or attached as message/rfc822)")  # fmt: skip
    async def forward(self, message_id: str, data: ForwardRequest, state: State,
                      principal: Principal,
                      idempotency_key: str | None = IDEMPOTENCY) -> Response[OutboundView]:  # fmt: skip
        try:
            return _respond(await Outbound.of(state).forward(principal, message_id, data,
                                                             idempotency_key))  # fmt: skip
        except RateLimitedError as exc:
            return _limited(exc)

    @post("/messages/{message_id:str}/cancel", guards=[requires("mail.send")], status_code=200,
          summary="Cancel before the hand-off (409 once handed off or finished)")  # fmt: skip
    async def cancel(self, message_id: str, state: State, principal: Principal,
                     data: CancelRequest | None = None) -> OutboundView:  # fmt: skip
        return await control.cancel(Outbound.of(state), principal, message_id,
                                    data.reason if data else None)  # fmt: skip

    @post("/messages/{message_id:str}/reschedule", guards=[requires("mail.send")], status_code=200,
          summary="Move send_at (also PATCH /v1/messages/{id} with send_at)")  # fmt: skip
    async def reschedule(self, message_id: str, data: RescheduleRequest, state: State,
                         principal: Principal) -> OutboundView:  # fmt: skip
        return await control.reschedule(Outbound.of(state), principal, message_id, data)

    @post("/messages/{message_id:str}/approve", guards=[requires("mail.approve")], status_code=200,
          summary="Approve a message awaiting approval (never by the key that composed it)")  # fmt: skip
    async def approve(self, message_id: str, state: State, principal: Principal,
                      data: ApproveRequest | None = None) -> OutboundView:  # fmt: skip
        return await control.approve(Outbound.of(state), principal, message_id,
                                     data or ApproveRequest())  # fmt: skip

    @post("/messages/{message_id:str}/reject", guards=[requires("mail.approve")], status_code=200,
          summary="Reject a message awaiting approval (it ends canceled)")  # fmt: skip
    async def reject(self, message_id: str, state: State, principal: Principal,
                     data: RejectRequest | None = None) -> OutboundView:  # fmt: skip
        return await control.reject(Outbound.of(state), principal, message_id,
                                    data or RejectRequest())  # fmt: skip

    @get("/messages/{message_id:str}/delivery", guards=[requires("mail.read")],
         summary="An outbound message's send state and per-recipient delivery")  # fmt: skip
    async def delivery(self, message_id: str, state: State, principal: Principal) -> OutboundView:
        return await Outbound.of(state).view(principal, message_id)

    @put("/inboxes/{inbox_id:str}/send-settings", guards=[requires("inboxes.manage")],
         summary="Signature and approval requirement of an inbox's outbound mail")  # fmt: skip
    async def send_settings(self, inbox_id: str, data: SendSettings, db: AsyncSession,
                            principal: Principal) -> SendSettings:  # fmt: skip
        inbox = await inboxes.get_inbox(db, principal.scope, inbox_id)
        changes = data.model_dump(exclude_unset=True)
        inbox = await inboxes.update_inbox(db, inbox, {"settings": changes})
        audit_action(db, principal, "inbox.send_settings", resource_type="inbox",
                     resource_id=inbox.id, details={"fields": sorted(changes)})  # fmt: skip
        conf = inbox.settings or {}
        return SendSettings(**{k: conf.get(k) for k in SendSettings.model_fields})

    @get("/inboxes/{inbox_id:str}/send-settings", guards=[requires("mail.read", "inboxes.manage")],
         summary="An inbox's send settings")  # fmt: skip
    async def get_send_settings(self, inbox_id: str, db: AsyncSession,
                                principal: Principal) -> SendSettings:  # fmt: skip
        conf = (await inboxes.get_inbox(db, principal.scope, inbox_id)).settings or {}
        return SendSettings(**{k: conf.get(k) for k in SendSettings.model_fields})
