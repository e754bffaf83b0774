"""The one transaction of a new send: tenancy checks (inbox, thread, attachments), the send
policy and rate limit (deliverability), signature, MIME into the blob store, and the rows."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from api.actions.outbound_views import outbound_view
from api.audit import audit_action
from api.auth import Principal
from api.errors import ApiError
from contracts.sending import OutboundView
from outbound.compose import MimeSpec, OutgoingAttachment, reference_chain, with_signature
from store import inboxes, outbound, threads
from store.base import utcnow
from store.errors import Invalid
from store.models import ApiKey

if TYPE_CHECKING:
    from api.actions.outbound import Draft, Outbound

SEND_REFUSED = "send_refused"
RATE_LIMITED = "rate_limited"


async def store_draft(ob: Outbound, principal: Principal, d: Draft,
                      claim_id: str | None) -> tuple[OutboundView, dict[str, str]]:  # fmt: skip
    from outbound.policy import check_send_policy
    from outbound.rate_limits import consume
    from store import delivery_events

    scope = principal.scope
    rcpts = [e for _, e in d.to + d.cc + d.bcc]
    async with ob.sessionmaker.begin() as db:
        inbox = await inboxes.get_inbox(db, scope, d.inbox_id)
        atts = await outbound.usable_attachments(db, scope, d.attachment_ids)
        if d.thread_id is not None:
            thread = await threads.get_thread(db, scope, d.thread_id)
            if thread.inbox_id != inbox.id:
                raise Invalid("the thread belongs to another inbox", field="thread_id")
            parent = await outbound.last_message_of_thread(db, thread)
            if parent is not None and not d.in_reply_to:
                d.in_reply_to, d.references = reference_chain(list(parent.references or []),
                                                              parent.message_id_header)  # fmt: skip
        refusals = await check_send_policy(db, scope, inbox.id, rcpts)
        if refusals:
            details = [{"field": "to", "message": f"{r.address}: {r.reason} ({r.detail})"}
                       for r in refusals]  # fmt: skip
            raise ApiError(422, SEND_REFUSED, "the send policy refuses some recipients", details)
        rate = await consume(db, scope, inbox.id, len(rcpts), settings=ob.settings)
        if not rate.allowed:
            raise RateLimitedError(rate.headers(), rate.retry_after_seconds)
        conf = inbox.settings or {}
        text, html = with_signature(d.text, d.html, conf.get("signature_text"),
                                    conf.get("signature_html"))  # fmt: skip
        blobs = [await asyncio.to_thread(ob.blobs.get, a.sha256) for a in atts]
        forwarded = await asyncio.to_thread(ob.blobs.get, d.forwarded_sha) if d.forwarded_sha else None
        now = utcnow()
        mid = ob.message_id_header(inbox.address)
        spec = MimeSpec(
            from_name=inbox.name, from_address=inbox.address, to=d.to, cc=d.cc, reply_to=d.reply_to,
            subject=d.subject, text=text, html=html, message_id=mid, date=now,
            in_reply_to=d.in_reply_to, references=d.references, headers=d.headers,
            attachments=[OutgoingAttachment(a.filename, a.content_type, b) for a, b in zip(atts, blobs)],
            forwarded=forwarded,
        )  # fmt: skip
        raw = await ob.build(spec)
        sha = await asyncio.to_thread(ob.blobs.put, raw)
        # The request, the inbox or the composing API key can require approval (any of them).
        key = await db.get(ApiKey, principal.key_id)
        requires_approval = bool(d.require_approval or conf.get("require_approval")
                                 or (key is not None and key.requires_approval))  # fmt: skip
        status = ("awaiting_approval" if requires_approval
                  else "scheduled" if d.send_at and d.send_at > now else "queued")  # fmt: skip
        expiry = float(conf.get("approval_expiry_hours") or ob.settings.outbound_approval_expiry_hours)
        new = outbound.NewOutbound(
            inbox=inbox, message_id_header=mid, subject=d.subject, from_name=inbox.name, to=d.to,
            cc=d.cc, bcc=d.bcc, reply_to=d.reply_to, text=text, html=html, raw_sha256=sha,
            size=len(raw), date=now, status=status, in_reply_to=d.in_reply_to,
            references=d.references, headers=d.headers, attachments=atts,
            send=dict(api_key_id=principal.key_id, user_id=principal.user_id, send_at=d.send_at,
                      requires_approval=requires_approval, approval_expiry_hours=expiry,
                      unless_replied=d.unless_replied),
        )  # fmt: skip
        msg = await outbound.insert_outbound(db, new)
        await delivery_events.record(
            db, scope, message_id=msg.id, inbox_id=inbox.id,
            type="scheduled" if status == "scheduled" else "queued",
            detail={"send_at": d.send_at.isoformat() if d.send_at else None}, dedupe_key="created",
        )  # fmt: skip
        if claim_id is not None:
            await outbound.complete_key(db, claim_id, msg.id)
        audit_action(db, principal, "message.send", resource_type="message", resource_id=msg.id,
                     details={"recipients": len(rcpts), "send_at": str(d.send_at or "")})
        return await outbound_view(db, scope, msg.id), rate.headers()


class RateLimitedError(ApiError):
    def __init__(self, headers: dict[str, str], retry_after: int) -> None:
        super().__init__(429, RATE_LIMITED, f"send rate limit reached; retry in {retry_after} s",
                         [{"field": "to", "message": "rate limited"}])
        self.headers = headers  # type: ignore[assignment]
