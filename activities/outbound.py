"""OutboundMail activities: read the plan, apply the send policy, record state changes, hand
the message to its transports, and finish with one final status.

Crash safety of `deliver` (never two SMTP sends to a recipient the server accepted): every
recipient carries a hand-off state in the database. Right before the message data goes out,
the accepted recipients are committed as `in_flight`; after the server's reply they become
`accepted`/`deferred`/`failed`. A retried attempt (the worker died) finds `in_flight` rows and
turns them into `in_doubt` — the server may have taken the message — and never sends to them
again. Guarantee: at most once per recipient for remote SMTP (a crash inside the window may
lose that recipient's copy, reported as `in_doubt`); exactly once for local inboxes, whose
copy is written in the same transaction as the recipient's state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from contracts.errors import NOT_FOUND
from contracts.outbound import (
    DecisionResult,
    DeliverInput,
    DeliverResult,
    FinishInput,
    MarkInput,
    OutboundMailInput,
    SendPlan,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from activities.deps import ActivityDeps
    from store.models import Message, OutboundSend

_CATALOGUE = {"sent": "message.sent", "delivered": "message.delivered",
              "deferred": "message.deferred", "failed": "message.failed",
              "canceled": "message.canceled", "awaiting_approval": "message.awaiting_approval",
              "approval_escalated": "message.approval_escalated"}  # fmt: skip
_DELIVERY_TYPES = {"queued", "awaiting_approval", "scheduled", "sent", "delivered", "deferred",
                   "failed", "suppressed", "canceled"}  # fmt: skip


def parse_schedule(text: str) -> list[float]:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    out = []
    for item in (i.strip() for i in text.split(",") if i.strip()):
        out.append(float(item[:-1]) * units[item[-1]] if item[-1] in units else float(item))
    return out


class OutboundActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    async def _load(self, session: AsyncSession, message_id: str) -> tuple[Message, OutboundSend]:
        from store import outbound
        from store.errors import NotFound
        from store.models import Message

        msg = await session.get(Message, message_id)
        if msg is None:
            raise ApplicationError("message deleted", type=NOT_FOUND, non_retryable=True)
        try:
            return msg, await outbound.get_send(session, message_id)
        except NotFound as exc:
            raise ApplicationError(str(exc), type=NOT_FOUND, non_retryable=True) from exc

    async def _record(self, session: AsyncSession, msg: Message, kind: str, *,
                      recipient: str | None = None, detail: dict[str, Any] | None = None,
                      dedupe: str | None = None) -> str | None:  # fmt: skip
        """A delivery event (deliverability's table) and, once per message, the catalogue event."""
        from store import delivery_events, events
        from store.scope import TenantScope

        if kind in _DELIVERY_TYPES:
            await delivery_events.record(
                session, TenantScope(org_id=msg.org_id), message_id=msg.id, inbox_id=msg.inbox_id,
                type=kind, recipient=recipient, detail=detail, dedupe_key=dedupe,
            )  # fmt: skip
        if kind not in _CATALOGUE:
            return None
        payload = {"message_id": msg.id, "recipient": recipient, "status": msg.status,
                   "detail": str((detail or {}).get("response") or (detail or {}).get("reason")
                                 or "") or None}  # fmt: skip
        event = await events.emit(session, org_id=msg.org_id, inbox_id=msg.inbox_id,
                                  type=_CATALOGUE[kind], resource_id=msg.id, payload=payload)
        return event.id

    async def _dispatch(self, event_ids: list[str | None]) -> None:
        from api.actions.webhooks import dispatch

        wanted = [e for e in event_ids if e]
        if wanted:
            await dispatch(self.deps.sessionmaker, activity.client(), self.deps.settings, wanted)

    @activity.defn(name="outbound.load_plan")
    async def load_plan(self, inp: OutboundMailInput) -> SendPlan:
        """The send as the workflow needs it, after a first pass of the send policy (refused
        recipients are marked, so an all-refused send ends before approval or schedule)."""
        from activities.outbound_delivery import refuse_by_policy
        from store import outbound

        s = self.deps.settings
        events: list[str | None] = []
        async with self.deps.sessionmaker.begin() as session:
            msg, send = await self._load(session, inp.message_id)
            if msg.pipeline_state == outbound.PENDING_START:
                msg.pipeline_state = outbound.STARTED  # the reconciler has nothing to start
            deliverable = 0
            if msg.status not in outbound.FINAL_STATUSES:
                rcpts = await outbound.recipients(session, msg.id)
                open_ = [r.address for r in rcpts if r.status in ("pending", "deferred")]
                refused = set(await refuse_by_policy(session, msg, open_, self._record, events))
                # Recipients already handed off (a rerun after a crash) still count.
                deliverable = sum(1 for r in rcpts if r.address not in refused
                                  and r.status not in ("suppressed", "failed", "canceled"))
            plan = SendPlan(
                message_id=msg.id, org_id=msg.org_id, inbox_id=msg.inbox_id,
                thread_id=msg.thread_id, status=msg.status, api_key_id=send.api_key_id,
                send_at=send.send_at, requires_approval=send.requires_approval,
                approval_expiry_seconds=send.approval_expiry_hours * 3600,
                unless_replied=send.unless_replied,
                retry_schedule_seconds=parse_schedule(s.outbound_retry_schedule),
                retry_period_seconds=s.outbound_retry_hours * 3600,
                deliverable=deliverable,
            )  # fmt: skip
        await self._dispatch(events)
        return plan

    @activity.defn(name="outbound.mark")
    async def mark(self, inp: MarkInput) -> None:
        async with self.deps.sessionmaker.begin() as session:
            msg, send = await self._load(session, inp.message_id)
            msg.status = inp.status
            if inp.event == "awaiting_approval":
                send.approval_state = "pending"
            elif inp.event == "approved":
                send.approval_state, send.approved_by_key_id = "approved", inp.detail
            event_id = None
            if inp.event:
                event_id = await self._record(session, msg, inp.event,
                                              detail={"reason": inp.detail} if inp.detail else None,
                                              dedupe=f"mark:{inp.event}")  # fmt: skip
        await self._dispatch([event_id])

    @activity.defn(name="outbound.deliver")
    async def deliver(self, inp: DeliverInput) -> DeliverResult:
        from activities.outbound_delivery import Delivery

        return await Delivery(self.deps, self._record, self._dispatch).run(inp)

    @activity.defn(name="outbound.finish")
    async def finish(self, inp: FinishInput) -> DecisionResult:
        """The one final status: canceled/suppressed as asked, or from the recipients' states."""
        from store import outbound
        from store.base import utcnow

        async with self.deps.sessionmaker.begin() as session:
            msg, send = await self._load(session, inp.message_id)
            if msg.status in outbound.FINAL_STATUSES:  # a retried finish: already recorded
                return DecisionResult(status=msg.status)
            rcpts = await outbound.recipients(session, msg.id)
            status: str = inp.status
            event_ids = []
            if inp.status == "canceled":
                open_ = [r.address for r in rcpts if r.status in ("pending", "deferred")]
                await outbound.set_recipients(session, msg.id, open_, status="canceled")
                send.cancel_reason = inp.reason
                if inp.reason == "rejected":
                    send.approval_state = "rejected"
                elif inp.reason == "approval_expired":
                    send.approval_state = "expired"
            elif inp.status == "suppressed":  # nothing deliverable: suppressed unless blocked
                status = "suppressed" if {r.status for r in rcpts} <= {"suppressed"} else "failed"
            elif inp.status == "sent":
                still_open = [r.address for r in rcpts if r.status in ("pending", "deferred")]
                await outbound.set_recipients(session, msg.id, still_open, status="failed",
                                              code=0, response="retry period expired")
                for addr in still_open:
                    msg.status = "failed"
                    event_ids.append(await self._record(session, msg, "failed", recipient=addr,
                                                        detail={"reason": "retry period expired"},
                                                        dedupe=f"expired:{addr}"))  # fmt: skip
                if still_open:
                    rcpts = await outbound.recipients(session, msg.id)
                states = {r.status for r in rcpts}
                if states & {"accepted", "local", "in_doubt"}:
                    status = "sent"
                elif "captured" in states:
                    status = "captured"
                elif states <= {"suppressed"}:
                    status = "suppressed"
                else:
                    status = "failed"
            msg.status = status
            send.finished_at = utcnow()
            if status in ("canceled", "suppressed", "failed"):
                kind = "canceled" if status == "canceled" else status
                event_ids.append(await self._record(session, msg, kind,
                                                    detail={"reason": inp.reason or status},
                                                    dedupe=f"final:{status}"))  # fmt: skip
        await self._dispatch(event_ids)
        return DecisionResult(status=status)
