"""Turns one parsed message into a BounceReport: finds the RFC 3464 fields (or decides the
message is a non-standard bounce), the human-readable explanation, the returned original
and its Message-ID, and merges them per recipient.

Pure: works on an already-parsed `email.message.Message`, no I/O.
"""

from __future__ import annotations

import re
from email.message import Message

from mailparse.bounce_dsn import field_value, recipient_from_group, split_fields
from mailparse.bounce_mime import (
    attached_original,
    clean_message_id,
    header,
    headers_from_text,
    part_text,
    walk,
)
from mailparse.bounce_records import (
    ADDRESS_RE,
    BouncedRecipient,
    BounceReport,
    find_reply_code,
    find_status,
    fold,
    normalise_address,
)
from mailparse.bounce_severity import infer_status, is_hard
from mailparse.bounce_text import (
    MAX_RECIPIENTS,
    NON_DELIVERY_RE,
    TextRecipient,
    explanation_for,
    find_recipients,
    html_to_text,
    is_delay,
    split_original,
)

# Heuristics read at most this much prose; real bounce explanations are a few KB.
_TEXT_LIMIT = 64_000
_DSN_TYPES = ("message/delivery-status", "message/global-delivery-status")
_DAEMON_SENDER_RE = re.compile(
    r"mailer-?daemon|post_?master|mail-?daemon|mail delivery|delivery (?:sub)?system|mdaemon"
    r"|system administrator|mail administrator|\bndr\b|e500_smtp|antivirus|mail ?gateway|imss",
    re.I,
)
_BOUNCE_SUBJECT_RE = re.compile(
    r"undeliver|undelivered|delivery (?:status )?(?:notification|failure|failed|problem|report"
    r"|error)|returned mail|failure notice|mail delivery|could not be delivered|non-?delivery"
    r"|delivery has failed|failed mail|not delivered|returning message|mail error|bounce"
    r"|delayed|warning: message|nondeliverable|unable to deliver|user unknown|mail system error"
    r"|delivery failure|message delivery|rejected|mail failed|returned|error|unzustellbar|echec"
    r"|non remis|non recapitabile|no entregado|не доставлено|エラー|不達|配信失敗",
    re.I,
)
_FIELD_LINE_RE = re.compile(r"^(?:Final|Original)-Recipient:", re.I | re.M)
_ORIGINAL_ID_RE = re.compile(r"^\s*Original-Message-ID:\s*(\S+)", re.I | re.M)
_REFUSED_DISPOSITION_RE = re.compile(r"deleted|failed|denied|error", re.I)


def message_prose(parts: list[Message]) -> str:
    """The human-readable parts (plain text preferred over HTML), outside attached originals."""
    plain: list[str] = []
    html: list[str] = []
    for part in parts:
        ctype = part.get_content_type()
        if part.get_content_maintype() == "multipart" and isinstance(part.get_payload(), str):
            # A multipart whose boundary parameter was lost to bad folding: read it raw.
            plain.append(str(part.get_payload())[:_TEXT_LIMIT])
        elif ctype == "text/plain" or (ctype == "text/html" and not plain):
            (plain if ctype == "text/plain" else html).append(part_text(part)[:_TEXT_LIMIT])
    if plain:
        return "\n".join(plain)
    return html_to_text("\n".join(html))[:_TEXT_LIMIT]


def _addresses_in(*values: str) -> set[str]:
    return {m.group(0).lower() for v in values for m in ADDRESS_RE.finditer(v)}


def _original_message_id(original: Message | None, texts: list[str]) -> str | None:
    if original is not None:
        found = clean_message_id(header(original, "Message-ID"))
        if found:
            return found
    for text in texts:
        match = _ORIGINAL_ID_RE.search(text)
        if match:
            return clean_message_id(match.group(1))
    return None


def _dsn_groups(
    parts: list[Message], prose: str
) -> tuple[list[dict[str, str]], dict[str, str], list[str]]:
    """Recipient groups, per-message fields and the raw field texts of every status part."""
    groups: list[dict[str, str]] = []
    message: dict[str, str] = {}
    texts = [part_text(p) for p in parts if p.get_content_type() in _DSN_TYPES]
    if not texts and _FIELD_LINE_RE.search(prose):
        # Some gateways paste the RFC 3464 fields into the text part instead of a DSN part.
        texts = [prose]
    for part in parts:
        if part.get_content_type() == "message/disposition-notification":
            # Dovecot/Sieve "reject" answers with an MDN whose disposition is "deleted":
            # the recipient's system refused the message, so it is a non-delivery.
            text = part_text(part)
            for group in split_fields(text).recipients:
                if _REFUSED_DISPOSITION_RE.search(group.get("disposition", "")):
                    groups.append({**group, "action": "failed"})
                    texts.append(text)
    for text in texts:
        fields = split_fields(text)
        groups += [g for g in fields.recipients if "action" in g or "status" in g]
        del groups[MAX_RECIPIENTS:]
        for name, value in fields.message.items():
            message.setdefault(name, value)
    return groups, message, texts


def _wrapped_report(parts: list[Message]) -> Message | None:
    """The DSN a gateway forwarded as an attachment, when the message has no DSN part."""
    if any(p.get_content_type() in _DSN_TYPES for p in parts):
        return None
    for part in parts:
        payload = part.get_payload()
        if part.get_content_type() == "message/rfc822" and isinstance(payload, list) and payload:
            inner = payload[0]
            if isinstance(inner, Message) and any(
                p.get_content_type() in _DSN_TYPES for p in walk(inner)
            ):
                return inner
    return None


def _group_email(group: dict[str, str]) -> str:
    for name in ("original-recipient", "final-recipient"):
        address = normalise_address(field_value(group.get(name, "")))
        if address:
            return address.lower()
    return ""


def _has_code_or_wording(text: str) -> bool:
    return bool(find_status(text) or find_reply_code(text) or NON_DELIVERY_RE.search(text))


def _sole_original_recipient(original: Message | None) -> list[TextRecipient]:
    """The original's only recipient, for bounces that never name the address.

    Only a single To with no Cc is unambiguous; Postflow sends one copy per recipient, so
    its own bounces meet this. A mailing-list post is addressed to the list, not to whoever
    bounced it, so list traffic is excluded."""
    if original is None or header(original, "Cc") or header(original, "List-Id"):
        return []
    to = header(original, "To")
    if len(_addresses_in(to)) != 1:
        return []
    return [TextRecipient(email=normalise_address(to), explanation="", strong=False)]


def _declared_dsn(msg: Message) -> bool:
    return msg.get_content_type() == "multipart/report" and (
        str(msg.get_param("report-type") or "").lower() == "delivery-status"
    )


def _from_mail_system(msg: Message, parts: list[Message]) -> bool:
    """Sent by a mail system rather than a person: a DSN part, a daemon sender or a null
    return path."""
    return bool(
        any(p.get_content_type() in _DSN_TYPES for p in parts)
        or _DAEMON_SENDER_RE.search(header(msg, "From"))
        or header(msg, "Return-Path").strip() == "<>"
    )


def _text_recipient(explanation: str, email: str, action: str) -> BouncedRecipient:
    reply_code = find_reply_code(explanation)
    status = find_status(explanation) or infer_status(explanation, reply_code)
    return BouncedRecipient(
        email=email,
        action=action,
        status=status,
        reply_code=reply_code,
        diagnostic=fold(explanation),
        hard=is_hard(action, status, reply_code, explanation),
    )


def _prose_recipients(
    msg: Message,
    parts: list[Message],
    explanation: str,
    hits: list[TextRecipient],
    original: Message | None,
) -> list[BouncedRecipient] | None:
    """Recipients of a bounce without RFC 3464 fields, or None if it is not a bounce."""
    from_mail_system = _from_mail_system(msg, parts)
    if not (from_mail_system or _BOUNCE_SUBJECT_RE.search(header(msg, "Subject"))):
        return None
    failed = [normalise_address(a) for a in header(msg, "X-Failed-Recipients").split(",")]
    if any(failed):
        # Exim and Google name the failed recipients in a header: trust it over prose.
        by_email = {hit.email.lower(): hit for hit in hits}
        hits = [
            by_email.get(a.lower()) or TextRecipient(email=a, explanation="", strong=True)
            for a in failed
            if a
        ]
    if not hits and _has_code_or_wording(explanation):
        hits = _sole_original_recipient(original)
    if not hits:
        return None
    if not any(h.strong for h in hits) and not (
        _declared_dsn(msg) or (from_mail_system and _has_code_or_wording(explanation))
    ):
        # An address merely mentioned is only trusted in a mail system's report that has an
        # SMTP code or non-delivery wording: a person's "it was not delivered to a@b" is not
        # a bounce, and neither is prose that never says delivery failed.
        return None
    action = "delayed" if is_delay(header(msg, "Subject"), explanation) else "failed"
    return [_text_recipient(explanation_for(h, explanation), h.email, action) for h in hits]


def parse_bounce(msg: Message, *, unwrap: bool = True) -> BounceReport | None:
    """The delivery report in msg, or None when msg is not one."""
    parts = list(walk(msg))
    inner = _wrapped_report(parts) if unwrap else None
    if inner is not None:
        return parse_bounce(inner, unwrap=False)
    prose = message_prose(parts)
    explanation, quoted = split_original(prose)
    original = attached_original(msg) or headers_from_text(quoted)
    # The report's own sender is never a failed recipient. Its To (our return path) and the
    # original's sender are only skipped when merely mentioned: a recipient layout wins.
    excluded = _addresses_in(header(msg, "From"))
    weak = _addresses_in(header(msg, "To"))
    if original is not None:
        weak |= _addresses_in(*(header(original, n) for n in ("From", "Return-Path", "Sender")))
    groups, message_fields, dsn_texts = _dsn_groups(parts, prose)
    hits = find_recipients(explanation, excluded, weak)
    recipients: list[BouncedRecipient] | None
    if groups:
        by_email = {hit.email.lower(): explanation_for(hit, explanation) for hit in hits}
        recipients = [recipient_from_group(g, by_email.get(_group_email(g), "")) for g in groups]
    else:
        recipients = _prose_recipients(msg, parts, explanation, hits, original)
    if recipients is None:
        return None
    reporting = field_value(message_fields.get("reporting-mta", ""))
    return BounceReport(
        kind="bounce",
        recipients=tuple(recipients),
        original_message_id=_original_message_id(original, dsn_texts + [prose]),
        reporting_mta=" ".join(reporting.split()) or None,
    )
