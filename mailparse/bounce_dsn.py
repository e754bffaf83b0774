"""RFC 3464 delivery status fields: split a message/delivery-status body into its
per-message and per-recipient groups and turn each group into a BouncedRecipient.

Pure: works on text already extracted from the message, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from mailparse.bounce_records import (
    ACTIONS,
    STATUS_RE,
    BouncedRecipient,
    find_reply_code,
    find_status,
    fold,
    normalise_address,
)
from mailparse.bounce_severity import infer_status, is_hard

_FIELD_RE = re.compile(r"^([A-Za-z][A-Za-z0-9-]*)[ \t]*:[ \t]*(.*)$")
_TYPE_RE = re.compile(r"[A-Za-z][\w.-]*")
_RECIPIENT_FIELDS = ("original-recipient", "final-recipient", "x-actual-recipient")
# Fields that only ever describe the whole message; they never open or join a recipient group.
_MESSAGE_FIELDS = frozenset(
    {"reporting-mta", "arrival-date", "original-envelope-id", "received-from-mta", "dsn-gateway"}
)


@dataclass(frozen=True)
class DsnFields:
    """The two field levels of a delivery-status body, names lower-cased."""

    message: dict[str, str]
    recipients: list[dict[str, str]]


def field_blocks(text: str) -> list[list[tuple[str, str]]]:
    """Field blocks separated by blank lines, with folded continuation lines joined."""
    blocks: list[list[tuple[str, str]]] = [[]]
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line.strip():
            if blocks[-1]:
                blocks.append([])
            continue
        field = _FIELD_RE.match(line)
        if line[:1] in " \t" or field is None:
            if blocks[-1]:
                name, value = blocks[-1][-1]
                blocks[-1][-1] = (name, f"{value} {line.strip()}")
            continue
        blocks[-1].append((field.group(1).lower(), field.group(2).strip()))
    return [block for block in blocks if block]


def split_fields(text: str) -> DsnFields:
    """Group delivery-status fields, tolerating missing or extra blank lines."""
    message: dict[str, str] = {}
    groups: list[dict[str, str]] = []
    for block in field_blocks(text):
        current: dict[str, str] | None = None
        pending: dict[str, str] = {}
        described = False  # the current recipient already got its Action/Status lines
        for name, value in block:
            if name in _MESSAGE_FIELDS and (current is None or name == "reporting-mta"):
                message.setdefault(name, value)
                continue
            if name in _RECIPIENT_FIELDS:
                # A repeated recipient field, or one after the previous recipient's
                # Action/Status, starts the next recipient: some MTAs omit the blank line.
                if current is None or name in current or described:
                    current = dict(pending)
                    pending = {}
                    described = False
                    groups.append(current)
                current.setdefault(name, value)
            elif current is None:
                pending.setdefault(name, value)
            else:
                described = described or name in ("action", "status")
                current.setdefault(name, value)
        if pending and current is None:
            if "action" in pending or "status" in pending:
                if groups and "action" not in groups[-1] and "status" not in groups[-1]:
                    groups[-1].update(pending)
                else:
                    groups.append(pending)
            else:
                for name, value in pending.items():
                    message.setdefault(name, value)
    return DsnFields(message=message, recipients=groups)


def field_value(value: str) -> str:
    """The value of a typed field ("rfc822; a@b", "dns; mx.example") without its type.

    Only a leading type token is removed: untyped values such as "550 5.1.1 <a@b>; no such
    user" (written by broken MTAs) are returned whole."""
    kind, sep, rest = value.partition(";")
    return (rest if sep and _TYPE_RE.fullmatch(kind.strip()) else value).strip()


def _recipient_email(group: Mapping[str, str]) -> str:
    # Original-Recipient is the address as the sender wrote it, i.e. what Postflow has on
    # record; Final-Recipient may be an alias expansion on the remote side.
    for name in ("original-recipient", "final-recipient", "x-actual-recipient"):
        address = normalise_address(field_value(group.get(name, "")))
        if address:
            return address
    return ""


def _action(group: Mapping[str, str], status: str | None) -> str:
    words = group.get("action", "").lower().split()
    action = words[0].strip(";,.()") if words else ""
    if action in ACTIONS:
        return action
    if status and status[0] == "2":
        return "delivered"
    if status and status[0] == "4" and "fail" not in action:
        return "delayed"
    return "failed"


def recipient_from_group(group: Mapping[str, str], extra_text: str = "") -> BouncedRecipient:
    """One recipient group as a BouncedRecipient; extra_text is the human-readable part's
    explanation for the same address, used when the DSN carries no diagnostic of its own."""
    email = _recipient_email(group)
    status_field = STATUS_RE.search(group.get("status", ""))
    diagnostic_raw = field_value(group.get("diagnostic-code", "")) or extra_text
    status = ".".join(status_field.groups()) if status_field else None
    reply_code = find_reply_code(diagnostic_raw)
    if status is None:
        status = find_status(diagnostic_raw) or infer_status(diagnostic_raw, reply_code)
    action = _action(group, status)
    if action in ("delivered", "relayed", "expanded"):
        reply_code = find_reply_code(diagnostic_raw, success=True)
    elif reply_code is None:
        # "Diagnostic-Code: X-Unix; 77" and the like: the SMTP reply is only in the prose.
        reply_code = find_reply_code(extra_text)
    # The diagnostic's own enhanced code is usually more specific than a generic x.0.0 field.
    severity_status = status
    if status and status.endswith(".0.0"):
        severity_status = find_status(diagnostic_raw) or status
    # Judge on the recipient's own diagnostic; the prose is only a fallback because it often
    # mixes several recipients and boilerplate ("do not reply, this is not spam ...").
    explanation = f"{diagnostic_raw} {group.get('status', '')}"
    return BouncedRecipient(
        email=email,
        action=action,
        status=status,
        reply_code=reply_code,
        diagnostic=fold(diagnostic_raw),
        hard=is_hard(action, severity_status, reply_code, explanation),
    )
