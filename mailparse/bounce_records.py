"""Result records for delivery and feedback reports, plus the small text primitives
(addresses, SMTP codes, folding) every report parser shares.

Pure: no I/O, no parsing of whole messages; `mailparse.reports` is the entry point.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

ACTIONS = frozenset({"failed", "delayed", "delivered", "relayed", "expanded"})
# Feedback types that mean the recipient does not want the mail. The others (auth-failure,
# not-spam, virus reports from DMARC/forensic reporters ...) say nothing about the recipient's
# wishes and must not suppress anyone.
SUPPRESSING_FEEDBACK_TYPES = frozenset({"abuse", "fraud", "opt-out", "complaint"})
DIAGNOSTIC_LIMIT = 1000


@dataclass(frozen=True)
class BouncedRecipient:
    """One recipient named in a delivery status notification."""

    email: str  # domain lower-cased; "" if the report names no usable address
    action: str  # RFC 3464 Action, lower-case; inferred for non-standard bounces
    status: str | None  # enhanced status code, e.g. "5.1.1"
    reply_code: str | None  # SMTP basic reply code, e.g. "550"
    diagnostic: str | None  # whitespace-folded, at most DIAGNOSTIC_LIMIT characters
    hard: bool  # permanent failure that should suppress the address


@dataclass(frozen=True)
class BounceReport:
    """A delivery status notification, standard (RFC 3464) or not."""

    kind: Literal["bounce"]
    recipients: tuple[BouncedRecipient, ...]
    original_message_id: str | None  # without angle brackets
    reporting_mta: str | None


@dataclass(frozen=True)
class ComplaintReport:
    """A feedback-loop report (ARF, RFC 5965) or a provider's non-standard equivalent."""

    kind: Literal["complaint"]
    # Lower-case ARF token: abuse, fraud, virus, other, not-spam, opt-out, auth-failure ...
    # Only SUPPRESSING_FEEDBACK_TYPES express the recipient's wish to stop the mail.
    feedback_type: str
    complainant_addresses: tuple[str, ...]  # Original-Rcpt-To, else the original's To
    original_message_id: str | None
    user_agent: str | None
    source_ip: str | None
    arrival_date: str | None


# Local parts are deliberately permissive (bounces quote what the remote MTA saw, including
# anonymised forms such as "david...@gmail.com"); the domain must have at least one dot.
# The look-behind makes a search start only at the beginning of a run of local-part
# characters, and the domain has no nested quantifiers: both keep matching linear on
# hostile input (a 64 KB line without "@" would otherwise cost seconds).
_LOCAL_CHARS = "A-Za-z0-9!#$%&'*+/=?^_`{|}~.-"
ADDRESS_RE = re.compile(
    rf"(?<![{_LOCAL_CHARS}])[{_LOCAL_CHARS}]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
)
# Enhanced status codes (RFC 3463). The look-arounds keep IP addresses and version numbers
# ("192.0.2.20", "Postfix 2.9.1.4") from matching.
STATUS_RE = re.compile(r"(?<![\w.])([245])\.(\d{1,3})\.(\d{1,3})(?![\w]|\.\d)")
FAILURE_STATUS_RE = re.compile(r"(?<![\w.])([45])\.(\d{1,3})\.(\d{1,3})(?![\w]|\.\d)")
# SMTP basic reply codes as they appear in transcripts: "550 ...", "550-5.7.1 ...", "said: 554".
REPLY_RE = re.compile(r"(?:^|(?<=[\s:(\[<\"'#]))([45][0-5]\d)(?=[ \t:,-]|$)", re.M)
SUCCESS_REPLY_RE = re.compile(r"(?:^|(?<=[\s:(\[<\"'#]))(2[0-5]\d)(?=[ \t:,-]|$)", re.M)
_WS_RE = re.compile(r"\s+")


def fold(text: str | None, limit: int = DIAGNOSTIC_LIMIT) -> str | None:
    """Collapse runs of whitespace and cap the length; None for empty text."""
    if not text:
        return None
    folded = _WS_RE.sub(" ", text).strip()
    return folded[:limit] or None


def normalise_address(value: str) -> str:
    """Return the first address in value with its domain lower-cased, or ""."""
    found = ADDRESS_RE.search(value)
    if found is None:
        return ""
    address = found.group(0).strip(".'\"`")
    local, _, domain = address.rpartition("@")
    local = local.lstrip(".'\"`")
    return f"{local}@{domain.lower()}" if local else ""


def find_status(text: str, *, failures_only: bool = True) -> str | None:
    """The first enhanced status code in text (only 4.x.x/5.x.x unless told otherwise)."""
    pattern = FAILURE_STATUS_RE if failures_only else STATUS_RE
    found = pattern.search(text)
    return ".".join(found.groups()) if found else None


def find_reply_code(text: str, *, success: bool = False) -> str | None:
    """The first SMTP failure reply code (4xx/5xx) in text, or 2xx when success is set."""
    found = (SUCCESS_REPLY_RE if success else REPLY_RE).search(text)
    return found.group(1) if found else None
