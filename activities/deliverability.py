"""Deliverability step of the inbound pipeline: recognise a bounce (DSN) or complaint (ARF),
match it to the outbound message it is about in the same organization (VERP return path
first, then the original's Message-ID), record `bounced`/`deferred`/`complained` delivery
events, write message.bounced/deferred/complained, and suppress hard-bounced or complaining
addresses. Unmatched reports change nothing: a forged bounce must not suppress anyone.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from temporalio import activity

from contracts.deliverability import DeliveryReportInput, DeliveryReportResult

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from activities.deps import ActivityDeps
    from mailparse.reports import BounceReport, ComplaintReport
    from store.models import Message

_EVENT_OF = {"bounced": "message.bounced", "deferred": "message.deferred",
             "complained": "message.complained"}  # fmt: skip


class DeliverabilityActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn(name="deliverability.process_report")
    async def process_report(self, inp: DeliveryReportInput) -> DeliveryReportResult:
        from mailparse.reports import classify_report
        from store.models import Message

        async with self.deps.sessionmaker() as session:
            msg = await session.get(Message, inp.message_id)
            if msg is None or msg.raw_sha256 is None or msg.direction != "inbound":
                return DeliveryReportResult()
            if not _may_be_report(msg):
                return DeliveryReportResult()  # ordinary mail: no second parse
            sha, envelope_to = msg.raw_sha256, list(msg.envelope_to or [])
        raw = await asyncio.to_thread(self.deps.blobs.get, sha)
        report = await asyncio.to_thread(classify_report, raw)
        if report is None:
            return DeliveryReportResult()
        async with self.deps.sessionmaker.begin() as session:
            return await _apply(session, inp.message_id, envelope_to, report)


def _may_be_report(msg: Message) -> bool:
    """Cheap test before parsing the raw mail again (~5 ms): DSNs come with the null sender
    (RFC 5321 4.5.5) or to our VERP return path, ARF reports are multipart/report, and the
    first step already labels bounce-looking mail `bounce`. Not caught: a non-standard
    complaint from a real sender to a plain inbox address (Hotmail's JMRP without an ARF part,
    SES notifications over SNS); addressed to a VERP return path they are recognised."""
    from mailparse.reports import parse_verp

    if not (msg.envelope_from or "").strip("<> ") or msg.category == "bounce":
        return True
    if any(parse_verp(rcpt) is not None for rcpt in msg.envelope_to or []):
        return True
    content_type = next((v for k, v in msg.headers or [] if k.lower() == "content-type"), "")
    return "multipart/report" in content_type.lower()


async def _find_original(
    session: AsyncSession, org_id: str, envelope_to: list[str], header_id: str | None
) -> tuple[Message | None, str | None]:
    """(the outbound message, the recipient its VERP address names)."""
    from mailparse.reports import parse_verp
    from store import delivery_reports

    for rcpt in envelope_to:
        verp = parse_verp(rcpt)
        if verp is not None:
            found = await delivery_reports.outbound_by_id(session, org_id, verp[0])
            if found is not None:
                return found, verp[1]
    if header_id:
        return await delivery_reports.outbound_by_header(session, org_id, header_id), None
    return None, None


def _recipients_of(original: Message) -> set[str]:
    listed = (original.to or []) + (original.cc or []) + (original.bcc or [])
    people = [a.get("email", "") for a in listed]
    return {p.lower() for p in people + list(original.envelope_to or []) if p}


async def _apply(
    session: AsyncSession, report_id: str, envelope_to: list[str],
    report: BounceReport | ComplaintReport,
) -> DeliveryReportResult:  # fmt: skip
    from store.models import Message

    msg = await session.get(Message, report_id)
    assert msg is not None
    original, verp_rcpt = await _find_original(
        session, msg.org_id, envelope_to, report.original_message_id
    )
    result = DeliveryReportResult(kind=report.kind)
    labels = {"delivery-report", report.kind}
    msg.labels = sorted(set(msg.labels or []) | labels)
    if original is None:
        msg.analysis = {**(msg.analysis or {}), "delivery_report": {"kind": report.kind,
                                                                     "matched": None}}  # fmt: skip
        return result
    result.original_message_id = original.id
    outcomes = _outcomes(report, verp_rcpt, original)
    for index, (type_, address, detail, suppress) in enumerate(outcomes):
        await _record(session, result, msg, original, index, type_, address, detail, suppress)
    msg.analysis = {**(msg.analysis or {}), "delivery_report": {
        "kind": report.kind, "matched": original.id, "recorded": result.recorded,
        "suppressed": result.suppressed}}  # fmt: skip
    return result


def _outcomes(
    report: BounceReport | ComplaintReport, verp_rcpt: str | None, original: Message
) -> list[tuple[str, str, dict[str, Any], str | None]]:
    """(event type, address, detail, suppression reason or None) per reported recipient."""
    from mailparse.reports import SUPPRESSING_FEEDBACK_TYPES, BounceReport

    out: list[tuple[str, str, dict[str, Any], str | None]] = []
    if isinstance(report, BounceReport):
        for r in report.recipients:
            address = r.email or verp_rcpt or ""
            if not address or r.action not in ("failed", "delayed"):
                continue
            type_ = "bounced" if r.action == "failed" else "deferred"
            detail = {"action": r.action, "status": r.status, "reply_code": r.reply_code,
                      "diagnostic": r.diagnostic, "hard": r.hard,
                      "reporting_mta": report.reporting_mta}  # fmt: skip
            suppress = "hard_bounce" if type_ == "bounced" and r.hard else None
            out.append((type_, address, detail, suppress))
        return out
    addresses = list(report.complainant_addresses) or ([verp_rcpt] if verp_rcpt else [])
    if not addresses:
        # Providers redact the complainant; with a single recipient there is no doubt who.
        rcpts = sorted(_recipients_of(original))
        addresses = rcpts if len(rcpts) == 1 else []
    suppress = "complaint" if report.feedback_type in SUPPRESSING_FEEDBACK_TYPES else None
    detail = {"feedback_type": report.feedback_type, "user_agent": report.user_agent,
              "source_ip": report.source_ip, "arrival_date": report.arrival_date}  # fmt: skip
    return [("complained", a, detail, suppress) for a in addresses]


async def _record(
    session: AsyncSession, result: DeliveryReportResult, report_msg: Message, original: Message,
    index: int, type_: str, address: str, detail: dict[str, Any], suppress: str | None,
) -> None:  # fmt: skip
    from contracts.events import DeliveryEventData
    from store import delivery_events, events, suppressions
    from store.scope import TenantScope

    scope = TenantScope(org_id=original.org_id)
    address = address.lower()
    await delivery_events.record(
        session, scope, message_id=original.id, inbox_id=original.inbox_id, type=type_,
        recipient=address, detail={**detail, "report_message_id": report_msg.id},
        dedupe_key=f"report:{report_msg.id}:{index}",
    )  # fmt: skip
    result.recorded.append(f"{type_}:{address}")
    summary = detail.get("diagnostic") or detail.get("feedback_type") or detail.get("status")
    event = await events.emit(
        session, org_id=original.org_id, inbox_id=original.inbox_id, type=_EVENT_OF[type_],
        resource_id=f"{report_msg.id}/{index}",
        payload=DeliveryEventData(message_id=original.id, recipient=address, status=type_,
                                  detail=str(summary)[:1000] if summary else None).model_dump(),
    )  # fmt: skip
    result.event_ids.append(event.id)
    # Only an address the original was really sent to is suppressed: a report naming some
    # other address (a forwarder's, or a forged one) is recorded but suppresses nobody.
    if suppress is not None and address in _recipients_of(original):
        await suppressions.add(
            session, scope, address, reason=suppress,
            source="bounce" if suppress == "hard_bounce" else "complaint",
            message_id=original.id, detail=str(summary)[:1000] if summary else None,
        )  # fmt: skip
        result.suppressed.append(address)
