"""Recognises delivery status notifications and feedback-loop complaints in inbound mail and
owns Postflow's VERP return-path format, so the inbound pipeline can match a report to the
outbound message and suppress hard-bounced or complaining addresses.

Pure: takes bytes or strings and returns records; no I/O, and never raises on input.
The parsing itself lives in the `mailparse.bounce_*` siblings.
"""

from __future__ import annotations

import re

from mailparse.bounce_arf import parse_complaint
from mailparse.bounce_message import message_prose, parse_bounce
from mailparse.bounce_mime import load, walk
from mailparse.bounce_records import (
    ADDRESS_RE,
    SUPPRESSING_FEEDBACK_TYPES,
    BouncedRecipient,
    BounceReport,
    ComplaintReport,
)
from mailparse.bounce_ses import parse_ses_notification

__all__ = [
    "SUPPRESSING_FEEDBACK_TYPES",
    "VERP_PREFIX",
    "BouncedRecipient",
    "BounceReport",
    "ComplaintReport",
    "build_verp",
    "classify_report",
    "parse_verp",
]

VERP_PREFIX = "bounces"
# Outbound message ids are "msg_" plus a ULID: letters, digits and "_", never "-".
_VERP_TOKEN_RE = re.compile(r"[A-Za-z0-9_]+")


def classify_report(raw: bytes) -> BounceReport | ComplaintReport | None:
    """A bounce or complaint report parsed from raw mail; None for ordinary mail."""
    try:
        return _classify(raw)
    except Exception:  # noqa: BLE001
        # Reports come from arbitrary remote MTAs (and from attackers): anything we cannot
        # read is treated as ordinary mail rather than failing the inbound pipeline. The
        # parsers are written not to raise; this is the last line of defence.
        return None


def _classify(raw: bytes) -> BounceReport | ComplaintReport | None:
    msg = load(bytes(raw))
    complaint = parse_complaint(msg)
    if complaint is not None:
        return complaint
    # SES-over-SNS notifications are JSON bodies; only those start with "{".
    prose = message_prose(list(walk(msg)))
    if prose.lstrip().startswith("{"):
        notification = parse_ses_notification(prose)
        if notification is not None:
            return notification
    return parse_bounce(msg)


def build_verp(message_id: str, recipient: str, domain: str, *, separator: str = "+") -> str:
    """Postflow's Return-Path for one outbound copy (see `parse_verp` for the format)."""
    local, _, rcpt_domain = recipient.rpartition("@")
    return f"{VERP_PREFIX}{separator}{message_id}-{local}={rcpt_domain.lower()}@{domain}"


def parse_verp(address: str, *, separator: str = "+") -> tuple[str, str] | None:
    """(message token, original recipient) from a Postflow VERP address, else None.

    Postflow sends every outbound copy with the Return-Path
    ``bounces{separator}{message_id}-{recipient local part}={recipient domain}@{our domain}``,
    e.g. ``bounces+msg_01HX3Q-jane.doe=example.com@mail.postflow.dev``. The token is the
    outbound message id, which never contains "-", so the first "-" ends it; a domain never
    contains "=", so the last "=" splits the recipient, whose local part may itself contain
    "-" or "=". Remote MTAs may change the case of the local part, so callers should look
    the token up case-insensitively.
    """
    value = address.strip().strip("<>").strip()
    local, at, _our_domain = value.rpartition("@")
    prefix = VERP_PREFIX + separator
    if not at or not local.lower().startswith(prefix):
        return None
    token, dash, encoded = local[len(prefix) :].partition("-")
    rcpt_local, equals, rcpt_domain = encoded.rpartition("=")
    if not (dash and equals and rcpt_local and _VERP_TOKEN_RE.fullmatch(token)):
        return None
    if not ADDRESS_RE.fullmatch(f"{rcpt_local}@{rcpt_domain}"):
        return None
    return token, f"{rcpt_local}@{rcpt_domain.lower()}"
