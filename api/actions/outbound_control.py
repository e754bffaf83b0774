"""Steering a send before its hand-off: cancel, reschedule, approve (optionally with edits)
and reject. Each is a workflow update, so the caller gets a definite answer from the one
place that decides (workflows/outbound_mail.py); refusals come back as 409s naming why."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.actions.outbound import Outbound, start_outbound
from api.audit import audit_action
from api.auth import Principal
from api.errors import ApiError
from contracts import errors
from contracts.outbound import (
    UPDATE_APPROVE,
    UPDATE_CANCEL,
    UPDATE_REJECT,
    UPDATE_RESCHEDULE,
    ApproveInput,
    CancelInput,
    DecisionResult,
    RejectInput,
    RescheduleInput,
)
from contracts.messages import MessageView
from contracts.sending import ApproveRequest, OutboundView, RejectRequest, RescheduleRequest
from outbound.compose import MimeSpec, OutgoingAttachment, one_line, with_signature
from store import inboxes, messages, outbound
from store.errors import Invalid
from workflows import ids

OWN_MESSAGE = "own_message"


async def _update(ob: Outbound, message_id: str, name: str, arg: Any) -> DecisionResult:
    client = await ob.temporal.get()
    handle = client.get_workflow_handle(ids.outbound(message_id))
    try:
        try:
            return await handle.execute_update(name, arg, result_type=DecisionResult)
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise
            # Never started (Temporal was down when it was sent; the reconciler has not run
            # yet): start it now (idempotent: a finished run is never re-run) and ask again.
            await start_outbound(client, ob.settings, message_id)
            return await handle.execute_update(name, arg, result_type=DecisionResult)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError):
            status = 403 if cause.type == OWN_MESSAGE else 409
            raise ApiError(status, cause.type or errors.CONFLICT, cause.message) from None
        raise
    except RPCError as exc:  # the workflow already completed (or never started)
        raise ApiError(409, "already_finished", f"the send is no longer running: {exc.message}") from None


async def _unfinished(ob: Outbound, principal: Principal, message_id: str) -> None:
    async with ob.sessionmaker() as db:
        msg, _ = await outbound.outbound_of(db, principal.scope, message_id)
    if msg.status in outbound.FINAL_STATUSES:
        raise ApiError(409, f"already_{msg.status}", f"the message is already {msg.status}",
                       [{"field": "message_id", "message": msg.status}])  # fmt: skip


async def cancel(ob: Outbound, principal: Principal, message_id: str,
                 reason: str | None = None) -> OutboundView:  # fmt: skip
    await _unfinished(ob, principal, message_id)
    await _update(ob, message_id, UPDATE_CANCEL,
                  CancelInput(reason=reason or "canceled", actor_key_id=principal.key_id))
    async with ob.sessionmaker.begin() as db:
        audit_action(db, principal, "message.cancel", resource_type="message", resource_id=message_id)
    return await ob.view(principal, message_id)


async def reschedule(ob: Outbound, principal: Principal, message_id: str,
                     req: RescheduleRequest) -> OutboundView:  # fmt: skip
    from store import delivery_events

    send_at = ob.check_send_at(req.send_at)
    await _unfinished(ob, principal, message_id)
    await _update(ob, message_id, UPDATE_RESCHEDULE, RescheduleInput(send_at=send_at))
    async with ob.sessionmaker.begin() as db:
        msg, send = await outbound.outbound_of(db, principal.scope, message_id)
        send.send_at = send_at
        if msg.status in ("queued", "scheduled"):
            msg.status = "scheduled"
        await delivery_events.record(db, principal.scope, message_id=msg.id, inbox_id=msg.inbox_id,
                                     type="scheduled", detail={"send_at": send_at.isoformat()})
        audit_action(db, principal, "message.reschedule", resource_type="message",
                     resource_id=message_id, details={"send_at": send_at.isoformat()})
    return await ob.view(principal, message_id)


async def _decidable(ob: Outbound, principal: Principal, message_id: str) -> None:
    async with ob.sessionmaker() as db:
        msg, send = await outbound.outbound_of(db, principal.scope, message_id)
    if send.api_key_id == principal.key_id:
        raise ApiError(403, OWN_MESSAGE, "the key that composed a message cannot approve or reject it",
                       [{"field": "message_id", "message": "own message"}])  # fmt: skip
    if msg.status != "awaiting_approval":
        raise ApiError(409, "not_awaiting_approval", f"the message is {msg.status}",
                       [{"field": "message_id", "message": msg.status}])  # fmt: skip


async def approve(ob: Outbound, principal: Principal, message_id: str,
                  req: ApproveRequest) -> OutboundView:  # fmt: skip
    await _decidable(ob, principal, message_id)
    edits = req.model_dump(exclude_none=True, exclude={"note"})
    if edits:
        await _apply_edits(ob, principal, message_id, req)
    await _update(ob, message_id, UPDATE_APPROVE,
                  ApproveInput(approver_key_id=principal.key_id, approver_user_id=principal.user_id))
    async with ob.sessionmaker.begin() as db:
        audit_action(db, principal, "message.approve", resource_type="message",
                     resource_id=message_id, details={"edited": sorted(edits), "note": req.note})
    return await ob.view(principal, message_id)


async def reject(ob: Outbound, principal: Principal, message_id: str,
                 req: RejectRequest) -> OutboundView:  # fmt: skip
    await _decidable(ob, principal, message_id)
    await _update(ob, message_id, UPDATE_REJECT,
                  RejectInput(approver_key_id=principal.key_id, reason=req.reason))
    async with ob.sessionmaker.begin() as db:
        audit_action(db, principal, "message.reject", resource_type="message",
                     resource_id=message_id, details={"reason": req.reason})
    return await ob.view(principal, message_id)


async def _apply_edits(ob: Outbound, principal: Principal, message_id: str,
                       req: ApproveRequest) -> None:  # fmt: skip
    """Rebuild the MIME with the approver's subject/body (the workflow reads it at hand-off)."""
    if req.subject is not None:
        try:
            one_line(req.subject, "subject")
        except ValueError as exc:
            raise Invalid(str(exc), field="subject") from None
    async with ob.sessionmaker.begin() as db:
        msg, _ = await outbound.outbound_of(db, principal.scope, message_id)
        inbox = await inboxes.get_inbox(db, principal.scope, msg.inbox_id)
        atts = await messages.attachments_of(db, msg)
        conf = inbox.settings or {}
        text, html = msg.text, msg.html
        if req.text is not None or req.html is not None:
            text, html = with_signature(req.text if req.text is not None else None,
                                        req.html if req.html is not None else None,
                                        conf.get("signature_text"), conf.get("signature_html"))
        pair = lambda items: [(a.get("name", ""), a["email"]) for a in items or []]  # noqa: E731
        blobs = [await asyncio.to_thread(ob.blobs.get, a.sha256) for a in atts]
        spec = MimeSpec(
            from_name=msg.from_name, from_address=msg.from_address, to=pair(msg.to), cc=pair(msg.cc),
            reply_to=pair(msg.reply_to), subject=req.subject if req.subject is not None else msg.subject,
            text=text, html=html, message_id=msg.message_id_header or ob.message_id_header(inbox.address),
            date=msg.sent_at or msg.received_at, in_reply_to=msg.in_reply_to,
            references=list(msg.references or []), headers=[(h[0], h[1]) for h in msg.headers or []],
            attachments=[OutgoingAttachment(a.filename, a.content_type, b) for a, b in zip(atts, blobs)],
        )  # fmt: skip
        raw = await ob.build(spec)
        msg.raw_sha256 = await asyncio.to_thread(ob.blobs.put, raw)
        msg.size, msg.subject, msg.text, msg.html = len(raw), spec.subject, text, html
        msg.snippet = " ".join((text or html or "").split())[:200]


async def patch_message(state: Any, principal: Principal, message_id: str, fields: set[str],
                        send_at: Any) -> MessageView | None:  # fmt: skip
    """`PATCH /v1/messages/{id}`: a `send_at` reschedules (mail.send, nothing else in the same
    request); otherwise None and the flags/labels update goes on, which needs mail.manage."""
    if "send_at" not in fields:
        if not principal.can("mail.manage"):
            raise ApiError(403, errors.FORBIDDEN, "this API key lacks the scope mail.manage",
                           [{"field": "scope", "message": "requires mail.manage"}])  # fmt: skip
        return None
    if not principal.can("mail.send"):
        raise ApiError(403, errors.FORBIDDEN, "rescheduling needs the scope mail.send",
                       [{"field": "scope", "message": "requires mail.send"}])  # fmt: skip
    if fields - {"send_at"} or send_at is None:
        raise Invalid("send send_at alone (a new time), without flags or labels", field="send_at")
    view = await reschedule(Outbound.of(state), principal, message_id,
                            RescheduleRequest(send_at=send_at))  # fmt: skip
    return view.message
