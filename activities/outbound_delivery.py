"""One delivery attempt of an outbound message (the body of `outbound.deliver`): local
inboxes through the inbound pipeline, remote recipients by their route (capture, relay,
direct), each recipient's hand-off state recorded around the SMTP DATA step. See
activities/outbound.py for the crash-safety guarantee this implements."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from temporalio import activity

from contracts.outbound import DeliverInput, DeliverResult

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from activities.deps import ActivityDeps
    from outbound.routing import Route
    from outbound.transport import Outcome
    from store.models import Inbox, Message

Record = Callable[..., Awaitable[str | None]]


def _enhanced_status(text: str) -> str | None:
    import re

    m = re.search(r"\b([245]\.\d{1,3}\.\d{1,3})\b", text)
    return m.group(1) if m else None


async def _start_pipelines(deps: ActivityDeps, message_ids: list[str]) -> None:
    from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
    from temporalio.exceptions import WorkflowAlreadyStartedError

    from contracts.inbound import InboundMailInput
    from store import messages
    from workflows import ids
    from workflows.inbound_mail import InboundMailWorkflow

    client = activity.client()
    for message_id in message_ids:
        try:
            await client.start_workflow(
                InboundMailWorkflow.run, InboundMailInput(message_id=message_id),
                id=ids.inbound(message_id), task_queue=deps.settings.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )  # fmt: skip
        except WorkflowAlreadyStartedError:
            pass
        except Exception as exc:  # noqa: BLE001 (Temporal down: the reconciler starts it)
            activity.logger.warning("pipeline start of %s deferred: %s", message_id, exc)
            continue
        async with deps.sessionmaker.begin() as s:
            await messages.mark_started(s, message_id, ids.inbound(message_id))


async def refuse_by_policy(session: AsyncSession, msg: Message, addresses: list[str],
                           record: Record, events: list[str | None]) -> list[str]:  # fmt: skip
    """Mark recipients the send policy refuses (suppressed, blocked, not allowed); their list."""
    from outbound.policy import check_send_policy
    from store import outbound
    from store.scope import TenantScope

    if not addresses:
        return []
    refusals = await check_send_policy(session, TenantScope(org_id=msg.org_id), msg.inbox_id,
                                       addresses)  # fmt: skip
    for ref in refusals:
        status = "suppressed" if ref.reason == "suppressed" else "failed"
        await outbound.set_recipients(session, msg.id, [ref.address], status=status, code=0,
                                      response=f"{ref.reason}: {ref.detail}")  # fmt: skip
        events.append(await record(session, msg, "suppressed", recipient=ref.address,
                                   detail={"reason": ref.reason, "detail": ref.detail},
                                   dedupe=f"policy:{ref.address}"))  # fmt: skip
    return [r.address for r in refusals]


class Delivery:
    def __init__(self, deps: ActivityDeps, record: Record,
                 dispatch: Callable[[list[str | None]], Awaitable[None]]) -> None:  # fmt: skip
        self.deps, self.record, self.dispatch = deps, record, dispatch
        self.events: list[str | None] = []
        self.from_domain = ""

    async def run(self, inp: DeliverInput) -> DeliverResult:
        from outbound.routing import plan_routes
        from store import inboxes, outbound
        from store.base import utcnow
        from store.models import Message

        result = DeliverResult()
        sm = self.deps.sessionmaker
        async with sm.begin() as s:
            msg = await s.get(Message, inp.message_id)
            send = await outbound.get_send(s, inp.message_id)
            assert msg is not None and msg.raw_sha256
            rcpts = await outbound.recipients(s, msg.id)
            # A previous attempt died between sending the data and recording the reply.
            stale = [r.address for r in rcpts if r.status == "in_flight"]
            await outbound.set_recipients(s, msg.id, stale, status="in_doubt", code=0,
                                          response="worker stopped after the hand-off")
            for addr in stale:
                self.events.append(await self.record(s, msg, "sent", recipient=addr,
                                                     detail={"in_doubt": True},
                                                     dedupe=f"doubt:{addr}"))  # fmt: skip
            open_ = [r.address for r in rcpts if r.status in ("pending", "deferred")]
            # The send policy once more, right before any transport (suppressions may be new).
            refused = await refuse_by_policy(s, msg, open_, self.record, self.events)
            open_ = [a for a in open_ if a not in refused]
            send.attempts = max(send.attempts, inp.attempt)
            send.first_attempt_at = send.first_attempt_at or utcnow()
            msg.status = "sending"
            local: dict[str, Inbox] = {}
            for addr in open_:
                if (inbox := await inboxes.find_by_address(s, addr)) is not None:
                    local[addr] = inbox
            remote = [a for a in open_ if a not in local]
            routes = await plan_routes(s, self.deps.settings, self.deps.authenticator.resolver,
                                       msg.org_id, remote)  # fmt: skip
            sha, org_id, domain = msg.raw_sha256, msg.org_id, send.from_domain
            self.from_domain = msg.from_address.rpartition("@")[2]
        raw = await asyncio.to_thread(self.deps.blobs.get, sha)
        if local:
            await self._local(inp.message_id, raw, local, result)
        signed = raw
        if any(r.kind != "capture" and r.targets for r in routes):
            signed = await self._sign(org_id, domain, raw)
        for route in routes:
            await self._route(inp, route, signed, result)
        # Every remote recipient got an outcome: only the deferred ones are still open.
        result.remaining = len(result.deferred)
        await self.dispatch(self.events)
        return result

    async def _sign(self, org_id: str, domain: str, raw: bytes) -> bytes:
        from outbound.dkim import sign

        async with self.deps.sessionmaker() as s:
            return await sign(s, org_id, domain, raw, master_key=self.deps.settings.master_key_bytes())

    async def _local(self, message_id: str, raw: bytes, local: dict[str, Inbox],
                     result: DeliverResult) -> None:  # fmt: skip
        """Copies for local inboxes and the recipients' state in one transaction: exactly once."""
        from ingress.peek import peek_headers
        from store import messages, outbound
        from store.models import Message

        sha = await asyncio.to_thread(self.deps.blobs.put, raw)
        new_ids = []
        async with self.deps.sessionmaker.begin() as s:
            msg = await s.get(Message, message_id)
            assert msg is not None
            for addr, inbox in local.items():
                env = messages.InboundEnvelope(raw_sha256=sha, size=len(raw),
                                               envelope_from=msg.from_address,
                                               envelope_to=[addr], **peek_headers(raw))  # fmt: skip
                new_ids.append(messages.insert_inbound(s, inbox, env).id)
                self.events.append(await self.record(s, msg, "delivered", recipient=addr,
                                                     detail={"route": "local"},
                                                     dedupe=f"local:{addr}"))  # fmt: skip
            self.events.append(await self.record(s, msg, "sent", detail={"route": "local"},
                                                 dedupe="sent:local"))  # fmt: skip
            await outbound.set_recipients(s, message_id, list(local), status="local", route="local",
                                          code=250, response="delivered to a local inbox")
        result.accepted += list(local)
        # Like the ingress: a failed start leaves the rows pending for the reconciler.
        await _start_pipelines(self.deps, new_ids)

    async def _route(self, inp: DeliverInput, route: Route, raw: bytes,
                     result: DeliverResult) -> None:  # fmt: skip
        from outbound.transport import Outcome

        result.route = route.kind
        if route.kind == "capture":
            outcomes = {r: Outcome("accepted", 250, "captured") for r in route.rcpts}
        elif route.error or not route.targets:
            outcomes = {r: Outcome("deferred", 0, route.error or "no route") for r in route.rcpts}
        else:
            outcomes = {}
            for rcpt in route.rcpts:  # one transaction per recipient: VERP return paths
                outcomes.update(await self._smtp(inp.message_id, route, rcpt, raw))
        await self._settle(inp, route.kind, outcomes, result)

    async def _smtp(self, message_id: str, route: Route, rcpt: str,
                    raw: bytes) -> dict[str, Outcome]:  # fmt: skip
        from mailparse.reports import build_verp
        from outbound.transport import Outcome, deliver
        from store import outbound

        mail_from = build_verp(message_id, rcpt, self.from_domain)

        async def in_flight(accepted: list[str]) -> None:
            # 👉 Committed before the data goes out: a crash from here on never re-sends.
            async with self.deps.sessionmaker.begin() as s:
                await outbound.set_recipients(s, message_id, accepted, status="in_flight",
                                              route=route.kind)  # fmt: skip

        settings = self.deps.settings
        outcomes: dict[str, Outcome] = {}
        for target in route.targets:
            if route.tenant_chosen:  # an org's own relay: the SSRF rules, on every connection
                from outbound.smtp_egress import ResolveError, UnsafeTarget, pin

                try:
                    target = await pin(target, settings)
                except (UnsafeTarget, ResolveError) as exc:
                    outcomes = {rcpt: Outcome("deferred", 0, f"SMTP config host refused: {exc}")}
                    continue
            outcomes = await deliver(target, mail_from, [rcpt], raw, helo=settings.smtp_hostname,
                                     timeout=settings.outbound_smtp_timeout_seconds,
                                     before_data=in_flight)  # fmt: skip
            if not all(o.kind == "deferred" and o.code == 0 for o in outcomes.values()):
                break  # an answer from this host; only unreachable hosts fall through
        return outcomes

    async def _settle(self, inp: DeliverInput, kind: str, outcomes: dict[str, Outcome],
                      result: DeliverResult) -> None:  # fmt: skip
        from mailparse.bounce_severity import is_hard
        from store import outbound, suppressions
        from store.models import Message
        from store.scope import TenantScope

        status_of = {"accepted": "captured" if kind == "capture" else "accepted",
                     "in_doubt": "in_doubt", "deferred": "deferred", "failed": "failed"}
        async with self.deps.sessionmaker.begin() as s:
            msg = await s.get(Message, inp.message_id)
            assert msg is not None
            n = inp.attempt
            for rcpt, o in outcomes.items():
                await outbound.set_recipients(s, msg.id, [rcpt], status=status_of[o.kind],
                                              route=kind, code=o.code, response=o.message)
                detail: dict[str, Any] = {"route": kind, "code": o.code, "response": o.message,
                                          "attempt": n}  # fmt: skip
                if o.kind in ("accepted", "in_doubt"):
                    result.accepted.append(rcpt)
                    if o.kind == "in_doubt":
                        detail["in_doubt"] = True
                    self.events.append(await self.record(s, msg, "sent", recipient=rcpt,
                                                         detail=detail, dedupe=f"sent:{rcpt}"))
                    if o.kind == "accepted" and kind != "capture":
                        self.events.append(await self.record(s, msg, "delivered", recipient=rcpt,
                                                             detail=detail,
                                                             dedupe=f"delivered:{rcpt}"))  # fmt: skip
                elif o.kind == "deferred":
                    result.deferred.append(rcpt)
                    msg.status = "deferred"
                    self.events.append(await self.record(s, msg, "deferred", recipient=rcpt,
                                                         detail=detail, dedupe=f"deferred:{n}:{rcpt}"))
                else:
                    result.failed.append(rcpt)
                    self.events.append(await self.record(s, msg, "failed", recipient=rcpt,
                                                         detail=detail, dedupe=f"failed:{rcpt}"))
                    status = _enhanced_status(o.message)
                    if is_hard("failed", status, str(o.code), o.message):
                        await suppressions.add(s, TenantScope(org_id=msg.org_id), rcpt,
                                               reason="hard_bounce", source="smtp",
                                               message_id=msg.id, detail=o.message)  # fmt: skip
