"""Feedback-loop complaints: ARF reports (RFC 5965) and the non-standard complaint and
unsubscribe notices some providers send instead (Hotmail JMRP forwards, Apple Mail's
one-click unsubscribe).

Pure: reads an already-parsed message, no I/O.
"""

from __future__ import annotations

import re
from datetime import UTC
from email.message import Message
from email.utils import parsedate_to_datetime

from mailparse.bounce_dsn import field_blocks, field_value
from mailparse.bounce_mime import (
    attached_original,
    clean_message_id,
    header,
    headers_from_text,
    part_text,
    walk,
)
from mailparse.bounce_records import ADDRESS_RE, ComplaintReport, normalise_address

_FEEDBACK_PART_TYPES = ("message/feedback-report", "text/feedback-report")
_HEADER_PART_TYPES = ("text/rfc822-headers", "text/rfc822-header", "message/rfc822-headers")
_HOTMAIL_SUBJECT_RE = re.compile(r"complaint about message from", re.I)


def _feedback_fields(msg: Message) -> dict[str, list[str]] | None:
    for part in walk(msg):
        if part.get_content_type() in _FEEDBACK_PART_TYPES:
            fields: dict[str, list[str]] = {}
            for block in field_blocks(part_text(part)):
                for name, value in block:
                    fields.setdefault(name, []).append(value)
            return fields
    return None


def _original(msg: Message) -> Message | None:
    found = attached_original(msg)
    if found is not None:
        return found
    for part in walk(msg):
        if part.get_content_type() in _HEADER_PART_TYPES:
            return headers_from_text(part_text(part))
    return None


def _addresses(values: list[str]) -> list[str]:
    found: list[str] = []
    for value in values:
        for match in ADDRESS_RE.finditer(value):
            address = normalise_address(match.group(0))
            if address and address not in found:
                found.append(address)
    return found


def _first(fields: dict[str, list[str]], *names: str) -> str | None:
    for name in names:
        values = fields.get(name)
        if values and values[0].strip():
            return " ".join(values[0].split())
    return None


def _iso_date(value: str | None) -> str | None:
    """RFC 5322 date as ISO 8601 UTC ("2005-03-08T18:00:00Z"); the raw text if unparseable."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return value
    if parsed.tzinfo is None:
        # RFC 5322 "-0000": the zone is unknown, so the wall-clock time is taken as UTC.
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _report(
    feedback_type: str,
    complainants: list[str],
    original: Message | None,
    fields: dict[str, list[str]],
) -> ComplaintReport:
    message_id = clean_message_id(header(original, "Message-ID")) if original is not None else None
    return ComplaintReport(
        kind="complaint",
        feedback_type=feedback_type,
        complainant_addresses=tuple(complainants),
        original_message_id=message_id,
        user_agent=_first(fields, "user-agent"),
        source_ip=(_first(fields, "source-ip") or "").split(" ")[0] or None,
        arrival_date=_iso_date(_first(fields, "arrival-date", "received-date")),
    )


def parse_complaint(msg: Message) -> ComplaintReport | None:
    """The complaint in msg, or None when msg is not a feedback report."""
    fields = _feedback_fields(msg)
    original = _original(msg)
    if fields is not None:
        feedback_type = (_first(fields, "feedback-type") or "other").lower().split()[0]
        complainants = _addresses(
            [field_value(v) for v in fields.get("original-rcpt-to", [])]
            + fields.get("removal-recipient", [])
        )
        if not complainants and original is not None:
            # RFC 5965 makes Original-Rcpt-To optional; providers that redact it usually leave
            # the recipient in the original's own headers.
            complainants = _addresses([header(original, "To")])
        return _report(feedback_type, complainants, original, fields)
    sender = header(msg, "From").lower()
    if _HOTMAIL_SUBJECT_RE.search(header(msg, "Subject")) and "hotmail.com" in sender:
        complainants = []
        if original is not None:
            complainants = _addresses([header(original, "X-HmXmrOriginalRecipient")])
            complainants = complainants or _addresses([header(original, "To")])
        return _report("abuse", complainants, original, {})
    if header(msg, "X-Apple-Unsubscribe").lower() == "true":
        # Apple Mail's unsubscribe button mails the List-Unsubscribe address from the
        # subscriber's own mailbox: the sender is the person opting out.
        return _report("opt-out", _addresses([header(msg, "From")]), original, {})
    return None
