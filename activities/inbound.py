"""Inbound pipeline activities: process (parse, extract, categorise, thread), wake the waits
of the inbox, and authenticate (SPF/DKIM/DMARC) then record `message.received`. Both return
the ids of the events they wrote, which the workflow hands to webhook dispatch."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from contracts.errors import NOT_FOUND
from contracts.inbound import (
    AuthenticateResult,
    InboundMailInput,
    MailSummary,
    NotifyWaitsResult,
    ProcessResult,
)

if TYPE_CHECKING:
    from activities.deps import ActivityDeps
    from mailparse.parse import ParsedMessage


def analyse(raw: bytes) -> tuple[ParsedMessage, dict[str, Any], str]:
    """Pure CPU work, run in a thread: parse, extract codes and links, categorise."""
    from mailparse.category import categorize
    from mailparse.codes import extract_codes
    from mailparse.parse import parse_message

    parsed = parse_message(raw)
    codes = extract_codes(subject=parsed.subject, text=parsed.text or "", html=parsed.html)
    headers = {k.lower(): v for k, v in parsed.headers}
    category = categorize(
        from_address=parsed.from_.email if parsed.from_ else "", subject=parsed.subject,
        text=parsed.text or "", headers=headers, content_type=parsed.content_type, codes=codes,
    )  # fmt: skip
    extracted = {
        "otp_codes": [{"code": c, "trusted": None} for c in codes.otp_codes],
        "verification_links": list(codes.verification_links),
        "magic_links": list(codes.magic_links),
        "backup_codes": list(codes.backup_codes),
        "code_expiry_seconds": codes.code_expiry_seconds,
    }
    return parsed, extracted, category


def early_summary(
    message_id: str, head: Any, parsed: ParsedMessage, extracted: dict[str, Any], category: str
) -> MailSummary:
    """What waits match on, from the parse alone (no thread yet: nothing has been written)."""
    codes = [c["code"] for c in extracted["otp_codes"]]
    return MailSummary(
        message_id=message_id, org_id=head.org_id, inbox_id=head.inbox_id, thread_id=None,
        from_address=parsed.from_.email if parsed.from_ else "",
        from_name=parsed.from_.name if parsed.from_ else "", subject=parsed.subject,
        category=category, has_otp=bool(codes), received_at=head.received_at, otp_codes=codes,
        code_expiry_seconds=extracted.get("code_expiry_seconds"),
    )  # fmt: skip


async def wake(client: Any, active: list[Any], summary: MailSummary) -> list[str]:
    """Signal every wait (rows of store.waits) this message matches, concurrently; the ids of
    those signalled. A wait that already ended is skipped. Shared by the pipeline and the
    ingress's early wake; a wait woken twice keeps its first result."""
    from temporalio.service import RPCError

    from contracts.waits import SIGNAL_MAIL_ARRIVED, WaitFilters, matches

    chosen = [w for w in active
              if matches(w.kind, WaitFilters.model_validate(w.filters), summary, w.since)]  # fmt: skip
    if not chosen:
        return []

    async def signal(w: Any) -> str | None:
        try:
            await client.get_workflow_handle(w.workflow_id).signal(SIGNAL_MAIL_ARRIVED, summary)
            return str(w.id)
        except RPCError:  # the wait already finished (timed out, matched elsewhere)
            return None

    return [w for w in await asyncio.gather(*(signal(w) for w in chosen)) if w]


class InboundActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn(name="inbound.process")
    async def process(self, inp: InboundMailInput) -> ProcessResult:
        """Parse, extract, wake OTP waits, then store, thread and record events; then wake the
        remaining waits. An OTP wait is woken right after extraction, before anything is
        written: its result carries the code (contracts.waits.WaitOtp), so a waiting agent never
        waits on the database, threading, events or authentication. Waits that return the
        whole message are woken after the commit, when the message can be read."""
        from store import events, messages, threads, waits
        from store.errors import NotFound
        from store.parsed import ParsedFields, store_parsed
        from store.views import thread_view

        async with self.deps.sessionmaker() as session:
            try:
                head = await messages.pipeline_head(session, inp.message_id)
            except NotFound as exc:  # deleted before the pipeline ran: nothing to do, ever
                raise ApplicationError(str(exc), type=NOT_FOUND, non_retryable=True) from exc
            active = await waits.active_for_inbox(session, head.inbox_id)
        assert head.raw_sha256 is not None
        raw = await asyncio.to_thread(self.deps.blobs.get, head.raw_sha256)
        parsed, extracted, category = await asyncio.to_thread(analyse, raw)
        early = early_summary(inp.message_id, head, parsed, extracted, category)
        otp_waits = [w for w in active if w.kind == "otp"]
        woken = await self._wake(otp_waits, early)
        for att in parsed.attachments:
            await asyncio.to_thread(self.deps.blobs.put, att.content)
        async with self.deps.sessionmaker.begin() as session:
            # One UPDATE of the row at assign_thread's flush, not one per intermediate step.
            with session.no_autoflush:
                msg = await store_parsed(session, inp.message_id, ParsedFields.from_parsed(parsed))
                msg.category = category
                msg.extracted = extracted
                msg.labels = sorted(set(msg.labels or []) | {category})
                msg.pipeline_state = "processed"
                thread, created = await threads.assign_thread(session, msg)
            event_ids = []
            if created:
                payload = {"thread": thread_view(thread).model_dump(mode="json")}
                event = await events.emit(session, org_id=msg.org_id, inbox_id=msg.inbox_id,
                                          type="thread.created", resource_id=thread.id,
                                          payload=payload)  # fmt: skip
                event_ids.append(event.id)
            summary = messages.summary_of(msg)
        # Read the waits again after the commit: a wait whose row was committed since our first
        # read may have looked for existing mail before this message was visible; this is the
        # pass that guarantees it is woken (the early one above only makes OTP waits faster).
        async with self.deps.sessionmaker() as session:
            active = await waits.active_for_inbox(session, head.inbox_id)
        woken += await self._wake([w for w in active if w.id not in woken], summary)
        return ProcessResult(
            summary=summary, thread_created=created, attachment_count=len(parsed.attachments),
            defects=list(parsed.defects)[:50], event_ids=event_ids, woken=woken,
        )  # fmt: skip

    async def _wake(self, active: list[Any], summary: MailSummary) -> list[str]:
        return await wake(activity.client(), active, summary)

    @activity.defn(name="inbound.notify_waits")
    async def notify_waits(self, summary: MailSummary) -> NotifyWaitsResult:
        """Signal every active wait of the inbox that this message matches (broadcast). Only
        histories from before `process` woke the waits itself run this step."""
        from store import waits

        async with self.deps.sessionmaker() as session:
            active = await waits.active_for_inbox(session, summary.inbox_id)
        return NotifyWaitsResult(woken=await self._wake(active, summary))

    @activity.defn(name="inbound.authenticate")
    async def authenticate(self, inp: InboundMailInput) -> AuthenticateResult:
        """Record SPF/DKIM/DMARC, flag codes of DMARC-failing mail untrusted, and emit
        `message.received` with the whole message (labels `spam`, `unauthenticated`)."""
        from store import events, messages
        from store.errors import NotFound
        from store.views import message_view

        try:
            verdicts = await self.deps.authenticator.verify_stored(inp.message_id)
        except NotFound as exc:  # deleted meanwhile (with its inbox): nothing left to do, ever
            raise ApplicationError(str(exc), type=NOT_FOUND, non_retryable=True) from exc
        async with self.deps.sessionmaker.begin() as session:
            try:
                msg = await messages.get_for_pipeline(session, inp.message_id)
            except NotFound as exc:
                raise ApplicationError(str(exc), type=NOT_FOUND, non_retryable=True) from exc
            msg.authentication_results = verdicts
            trusted = verdicts.get("dmarc") != "fail"
            extracted = dict(msg.extracted or {})
            extracted["otp_codes"] = [
                {**c, "trusted": trusted} for c in extracted.get("otp_codes", [])
            ]
            msg.extracted = extracted
            if not trusted:
                msg.labels = sorted(set(msg.labels or []) | {"unauthenticated"})
            msg.pipeline_state = "done"
            view = message_view(msg, await messages.attachments_of(session, msg))
            labels = [label for label in ("spam", "unauthenticated") if label in msg.labels]
            payload = {"message": view.model_dump(mode="json", by_alias=True)}
            event = await events.emit(session, org_id=msg.org_id, inbox_id=msg.inbox_id,
                                      type="message.received", resource_id=msg.id,
                                      payload=payload, labels=labels)  # fmt: skip
        return AuthenticateResult(
            message_id=inp.message_id, dmarc=str(verdicts.get("dmarc")),
            spf=str(verdicts.get("spf")), dkim=str(verdicts.get("dkim")), event_ids=[event.id],
        )  # fmt: skip
