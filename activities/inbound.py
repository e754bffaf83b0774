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


class InboundActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn(name="inbound.process")
    async def process(self, inp: InboundMailInput) -> ProcessResult:
        from store import events, messages, threads
        from store.errors import NotFound
        from store.parsed import ParsedFields, store_parsed
        from store.views import thread_view

        async with self.deps.sessionmaker() as session:
            try:
                msg = await messages.get_for_pipeline(session, inp.message_id)
            except NotFound as exc:  # deleted before the pipeline ran: nothing to do, ever
                raise ApplicationError(str(exc), type=NOT_FOUND, non_retryable=True) from exc
            raw_sha = msg.raw_sha256
        assert raw_sha is not None
        raw = await asyncio.to_thread(self.deps.blobs.get, raw_sha)
        parsed, extracted, category = await asyncio.to_thread(analyse, raw)
        for att in parsed.attachments:
            await asyncio.to_thread(self.deps.blobs.put, att.content)
        async with self.deps.sessionmaker.begin() as session:
            msg = await store_parsed(session, inp.message_id, ParsedFields.from_parsed(parsed))
            msg.category = category
            msg.extracted = extracted
            msg.labels = sorted(set(msg.labels or []) | {category})
            thread, created = await threads.assign_thread(session, msg)
            msg.pipeline_state = "processed"
            event_ids = []
            if created:
                payload = {"thread": thread_view(thread).model_dump(mode="json")}
                event = await events.emit(session, org_id=msg.org_id, inbox_id=msg.inbox_id,
                                          type="thread.created", resource_id=thread.id,
                                          payload=payload)  # fmt: skip
                event_ids.append(event.id)
            summary = messages.summary_of(msg)
        return ProcessResult(
            summary=summary, thread_created=created, attachment_count=len(parsed.attachments),
            defects=list(parsed.defects)[:50], event_ids=event_ids,
        )  # fmt: skip

    @activity.defn(name="inbound.notify_waits")
    async def notify_waits(self, summary: MailSummary) -> NotifyWaitsResult:
        """Signal every active wait of the inbox that this message matches (broadcast)."""
        from temporalio.service import RPCError

        from contracts.waits import SIGNAL_MAIL_ARRIVED, WaitFilters, matches
        from store import waits

        async with self.deps.sessionmaker() as session:
            active = await waits.active_for_inbox(session, summary.inbox_id)
        client = activity.client()
        woken: list[str] = []
        for w in active:
            if not matches(w.kind, WaitFilters.model_validate(w.filters), summary, w.since):  # type: ignore[arg-type]
                continue
            try:
                await client.get_workflow_handle(w.workflow_id).signal(SIGNAL_MAIL_ARRIVED, summary)
                woken.append(w.id)
            except RPCError:  # the wait already finished (timed out, matched elsewhere)
                continue
        return NotifyWaitsResult(woken=woken)

    @activity.defn(name="inbound.authenticate")
    async def authenticate(self, inp: InboundMailInput) -> AuthenticateResult:
        """Record SPF/DKIM/DMARC, flag codes of DMARC-failing mail untrusted, and emit
        `message.received` with the whole message (labels `spam`, `unauthenticated`)."""
        from store import events, messages
        from store.views import message_view

        verdicts = await self.deps.authenticator.verify_stored(inp.message_id)
        async with self.deps.sessionmaker.begin() as session:
            msg = await messages.get_for_pipeline(session, inp.message_id)
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
