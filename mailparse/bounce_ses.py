"""Amazon SES event notifications (Bounce, Complaint, Delivery) delivered by e-mail through
SNS, for deployments that relay outbound mail through SES.

Pure: decodes JSON already extracted from the message text, no I/O.
"""

from __future__ import annotations

import json
from typing import Any

from mailparse.bounce_dsn import field_value
from mailparse.bounce_records import (
    BouncedRecipient,
    BounceReport,
    ComplaintReport,
    find_reply_code,
    find_status,
    fold,
    normalise_address,
)
from mailparse.bounce_severity import is_hard

# SES's own verdicts that the address is unusable, whatever the remote MTA said.
_SES_HARD_SUBTYPES = frozenset({"noemail", "suppressed", "onaccountsuppressionlist"})


def _decode(text: str) -> dict[str, Any] | None:
    start = text.find("{")
    if start < 0 or "otificationType" not in text and "eventType" not in text:
        return None
    # strict=False: mail transport folds long lines, leaving raw newlines inside strings.
    decoder = json.JSONDecoder(strict=False)
    try:
        data, _ = decoder.raw_decode(text[start:])
        if isinstance(data, dict) and isinstance(data.get("Message"), str):
            data, _ = decoder.raw_decode(data["Message"].strip())  # SNS envelope
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _message_id(mail: dict[str, Any]) -> str | None:
    common = _dict(mail.get("commonHeaders")).get("messageId")
    if isinstance(common, str) and common.strip():
        return common.strip().strip("<>")
    for item in _list(mail.get("headers")):
        entry = _dict(item)
        if str(entry.get("name", "")).lower() == "message-id":
            return str(entry.get("value", "")).strip().strip("<>") or None
    return None


def _bounce(event: dict[str, Any], mail: dict[str, Any]) -> BounceReport:
    bounce = _dict(event.get("bounce"))
    permanent = str(bounce.get("bounceType", "")).lower() == "permanent"
    ses_hard = str(bounce.get("bounceSubType", "")).lower() in _SES_HARD_SUBTYPES
    recipients = []
    for item in _list(bounce.get("bouncedRecipients")):
        entry = _dict(item)
        diagnostic = field_value(str(entry.get("diagnosticCode", "")))
        status = find_status(str(entry.get("status", ""))) or find_status(diagnostic)
        reply_code = find_reply_code(diagnostic)
        action = str(entry.get("action", "")).lower() or ("failed" if permanent else "delayed")
        hard = permanent and (ses_hard or is_hard(action, status, reply_code, diagnostic))
        recipients.append(
            BouncedRecipient(
                email=normalise_address(str(entry.get("emailAddress", ""))),
                action=action,
                status=status,
                reply_code=reply_code,
                diagnostic=fold(diagnostic),
                hard=hard,
            )
        )
    reporting = field_value(str(bounce.get("reportingMTA", ""))) or None
    return BounceReport(
        kind="bounce",
        recipients=tuple(recipients),
        original_message_id=_message_id(mail),
        reporting_mta=reporting,
    )


def _delivery(event: dict[str, Any], mail: dict[str, Any]) -> BounceReport:
    delivery = _dict(event.get("delivery"))
    response = str(delivery.get("smtpResponse", ""))
    status = find_status(response, failures_only=False)
    reply = response[:3] if response[:3].isdigit() else None
    recipients = tuple(
        BouncedRecipient(
            email=normalise_address(str(address)),
            action="delivered",
            status=status,
            reply_code=reply,
            diagnostic=fold(response),
            hard=False,
        )
        for address in _list(delivery.get("recipients"))
    )
    return BounceReport(
        kind="bounce",
        recipients=recipients,
        original_message_id=_message_id(mail),
        reporting_mta=str(delivery.get("reportingMTA", "")) or None,
    )


def _complaint(event: dict[str, Any], mail: dict[str, Any]) -> ComplaintReport:
    complaint = _dict(event.get("complaint"))
    addresses = [
        normalise_address(str(_dict(item).get("emailAddress", "")))
        for item in _list(complaint.get("complainedRecipients"))
    ]
    return ComplaintReport(
        kind="complaint",
        # SES only reports complaints it received as spam-button ARF reports.
        feedback_type=str(complaint.get("complaintFeedbackType") or "abuse").lower(),
        complainant_addresses=tuple(a for a in addresses if a),
        original_message_id=_message_id(mail),
        user_agent=complaint.get("userAgent")
        if isinstance(complaint.get("userAgent"), str)
        else None,
        source_ip=None,
        arrival_date=complaint.get("arrivalDate")
        if isinstance(complaint.get("arrivalDate"), str)
        else None,
    )


def parse_ses_notification(text: str) -> BounceReport | ComplaintReport | None:
    """The SES event in a notification mail body, or None when the body is not one."""
    event = _decode(text)
    if event is None:
        return None
    kind = str(event.get("notificationType") or event.get("eventType") or "").lower()
    mail = _dict(event.get("mail"))
    if kind == "bounce":
        return _bounce(event, mail)
    if kind == "complaint":
        return _complaint(event, mail)
    if kind == "delivery":
        return _delivery(event, mail)
    return None
