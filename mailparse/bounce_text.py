"""Heuristics for bounces that carry no RFC 3464 fields (qmail, Exim, Sendmail, Exchange,
Gmail, Yahoo, GroupWise, ...): locate the failed recipients in the human-readable text and
the explanation that belongs to each.

Pure text analysis: no I/O, no MIME handling (see `mailparse.bounce_mime`).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from mailparse.bounce_records import ADDRESS_RE, find_reply_code, find_status, normalise_address
from mailparse.bounce_severity import reason_of

_ADDR = ADDRESS_RE.pattern
_FLAGS = re.I | re.M


def _any(*alternatives: str, flags: int = _FLAGS) -> re.Pattern[str]:
    return re.compile("|".join(alternatives), flags)


# Where a bounce stops talking and starts quoting the original message.
_ORIGINAL_MARKER_RE = re.compile(
    r"^[ \t>|]*(?:[-=*_#]{2,}[ \t]*)?(?:"
    + "|".join(
        [
            r"below this line is a copy of the message|this is a copy of the message",
            r"(?:the )?original message(?: header| headers| details)?"
            r"(?: follows| is attached|:|[ \t]*[-=*_]{2,}|$)",
            r"message headers follow|headers? of the original|the header of the original",
            r"(?:returned|unsent|undelivered|bounced) (?:message|mail|e-mail)"
            r"(?: below| follows|:|$)",
            r"copy of the original|your message (?:reads|follows)|included is a copy",
            r"(?:original )?message header(?:s)? follows|the message header",
            r"content-type: message/rfc822",
        ]
    )
    + ")",
    _FLAGS,
)
_HEADER_RUN_RE = re.compile(
    r"^(?:(?:Return-Path|Received|Message-I[Dd]|DKIM-Signature|MIME-Version|X-[\w-]+|From|To|"
    r"Date|Subject|Content-Type|Delivered-To|Reply-To|Authentication-Results):[^\n]*\n"
    r"(?:[ \t][^\n]*\n)*){3,}",
    re.M,
)
_FAILURE_WORDS = (
    r"full|invalid|unknown|fail(?:ed|ure)?|error|undeliverable|could not|couldn't|unable"
    r"|rejected|refused|no such|denied|bad|over quota|non-?existent|does not exist|did not"
    r"|exceeds?"
)
# A quoted display name; one that itself contains "@" only counts before "<address>".
_DISPLAY_NAME = r"\"[^\"\n@]*\"[ \t]*|\"[^\"\n]*\"[ \t]*(?=<)"
# Recipient layouts MTAs print. Each alternative captures the address in its own group.
_STRONG_ANCHOR_RE = _any(
    # "<a@b>:" (qmail, Postfix), "<a@b>... " (Sendmail), "a@b" alone on a line (Exim,
    # Gmail), "a@b on <date>" (Exchange), "[a@b]: 550 ..." and "a@b [User unknown]".
    rf"^[ \t>*\[-]*(?:RCPT TO:?[ \t]*|{_DISPLAY_NAME})?[<'\"]?(?:mailto:)?({_ADDR})[>\]'\"]?"
    rf"(?:[ \t]*(?::|\.\.\.|\(|;|,)|[ \t]*$|[ \t]+on[ \t]|[ \t]+-|[ \t]+\[)",
    # "Recipient address: a@b", "Undeliverable Address: a@b", "Intended recipient: a@b".
    rf"^[ \t]*(?:(?:intended|final|original|failed|invalid|unknown|bad|undeliverable|rejected"
    rf"|unreachable)[ \t]+)?(?:recipient|address|addressee|rcpt to|destinataire|empf\w*nger"
    rf"|user|mailbox)(?:\(s\)|s|es)?(?:[ \t]+address(?:es)?)?[ \t]*:[ \t]*"
    rf"<?(?:mailto:)?({_ADDR})>?",
    # An explanation that ends in the address: "User's mailbox is full: <a@b>".
    rf"^[^\n@]{{0,60}}\b(?:{_FAILURE_WORDS})\b[^\n@]{{0,40}}?[:\s][ \t]*['\"<]?(?:mailto:)?"
    rf"({_ADDR})['\">]?[ \t.]*$",
    # The address the sender used, when the failure is reported for what it expanded to.
    rf"\((?:expanded|generated) from:?[ \t]*<?({_ADDR})>?\)",
    rf"originally addressed to:?[ \t]*<?({_ADDR})",
    # Exchange 5.5 prints X.400 routes: "c=US;a= ;p=IKON;dda:SMTP=a@b;".
    r"\bSMTP=([A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)",
)
_LABELLED_ANCHOR_RE = re.compile(
    r"(?:recipient|address(?:ee)?|destinataire|empf\w*nger|rcpt to|user|mailbox|account"
    r"|\bto|\bfor|delivering your (?:mail|message) to|utilisateur|to the following)"
    rf"[^\n@<>]{{0,40}}?[:\s\[(]\s*<?(?:mailto:)?({_ADDR})>?",
    re.I,
)
_FREE_ADDRESS_RE = re.compile(rf"<?({_ADDR})>?")
_DAEMON_LOCAL_RE = re.compile(
    r"^(?:mailer-?daemon|postmaster|mail-?daemon|mdaemon|root|abuse|noreply|no-reply|bounces?"
    r"|double-bounce|mail\.delivery\.system|e500_smtp_mail_service|ndr)$",
    re.I,
)
_DELAY_SUBJECT_RE = _any(
    r"delay|not yet (?:been )?delivered|still being retried|deferred|transient"
)
_DELAY_TEXT_RE = _any(
    r"will (?:continue|keep) (?:to )?(?:try|trying|retry|attempt)|attempts will continue",
    r"not (?:yet )?been delivered yet|has not yet been delivered",
    r"still (?:being )?(?:retried|trying)",
    r"will be retried|will retry|no action is required|delivery (?:is|has been) delayed",
    r"temporarily deferred",
)
_PERMANENT_TEXT_RE = _any(
    r"permanent(?:ly)?|given up|gave up|giving up|will not be retried|no further attempts"
)
# Wording that only non-delivery reports use; lets a merely-mentioned address count.
NON_DELIVERY_RE = _any(
    r"could ?n[o']t be delivered|could not deliver|delivery (?:has |to [^\n]{0,80})?failed",
    r"undeliverable|permanent (?:fatal )?error|failed permanently|not (?:be )?delivered",
    r"(?:unable|was not able|wasn'?t able|were not able) to deliver|delivery failure",
    r"did not reach|returned to sender|message was not accepted|could not be sent",
)
# "[^<>]*" rather than ".*?" or "[^>]+": a scan never runs past the next "<", so stripping
# stays linear even on "<script><script>..." floods.
_HTML_TAG_RE = re.compile(r"<[^<>]*>")
_HTML_BREAK_RE = re.compile(r"<br\s*/?>|</p>|</div>|</tr>|</li>", re.I)
_ORIGINAL_HEADER_RE = _any(r"^(?:Received|Return-Path|Message-I[Dd]|DKIM-Signature|MIME-Version):")
_FAILURE_SUBJECT_RE = _any(r"fail|undeliver|returned")
_SENDER_MENTION_RE = re.compile(r"\bfrom:?\s*<?$", re.I)
# More recipients than this in one report is not a real bounce; stop before it costs time.
MAX_RECIPIENTS = 1000
# Explanations longer than this are boilerplate or a quoted original we failed to cut off;
# judging severity on them would pick up words like "virus" from the quoted headers.
EXPLANATION_LIMIT = 1500


@dataclass(frozen=True)
class TextRecipient:
    """A recipient found in bounce prose and the text that explains its failure."""

    email: str
    explanation: str
    strong: bool  # found in a layout MTAs use for failed recipients, not merely mentioned


def html_to_text(markup: str) -> str:
    """Crude tag stripping; enough to read an HTML-only bounce."""
    return html.unescape(_HTML_TAG_RE.sub(" ", _HTML_BREAK_RE.sub("\n", markup)))


def split_original(text: str) -> tuple[str, str]:
    """(explanation, quoted original) split at the first marker or header block."""
    cut = len(text)
    marker = _ORIGINAL_MARKER_RE.search(text)
    if marker:
        cut = marker.start()
    headers = _HEADER_RUN_RE.search(text)
    if headers and headers.start() < cut and _looks_like_original(headers.group(0)):
        cut = headers.start()
    return text[:cut], text[cut:]


def _looks_like_original(block: str) -> bool:
    return bool(_ORIGINAL_HEADER_RE.search(block))


def is_delay(subject: str, text: str) -> bool:
    """True when a non-standard bounce is only a warning that delivery is still being tried."""
    if _DELAY_SUBJECT_RE.search(subject) and not _FAILURE_SUBJECT_RE.search(subject):
        return not _PERMANENT_TEXT_RE.search(text)
    return bool(_DELAY_TEXT_RE.search(text)) and not _PERMANENT_TEXT_RE.search(text)


def _anchors(
    text: str, excluded: set[str], weak_excluded: set[str]
) -> tuple[list[tuple[int, str]], bool]:
    """(position, address) of the recipients, from the strongest layout that names any."""
    for pattern in (_STRONG_ANCHOR_RE, _LABELLED_ANCHOR_RE, _FREE_ADDRESS_RE):
        strong = pattern is _STRONG_ANCHOR_RE
        skip = excluded if strong else excluded | weak_excluded
        found: list[tuple[int, str]] = []
        seen: set[str] = set()
        for match in pattern.finditer(text):
            if not strong and _SENDER_MENTION_RE.search(
                text, max(0, match.start() - 8), match.start()
            ):
                # "not accepting mail from a@b": prose names senders too, never as failures.
                continue
            email = normalise_address(match.group(match.lastindex or 1))
            key = email.lower()
            # Daemon mailboxes named in prose are contacts ("please contact postmaster@"),
            # but printed in a recipient layout they really did fail.
            daemon = not strong and _DAEMON_LOCAL_RE.match(email.partition("@")[0])
            if not email or key in skip or key in seen or daemon:
                continue
            seen.add(key)
            found.append((match.start(), email))
            if len(found) >= MAX_RECIPIENTS:
                break
        if found:
            return found, strong
    return [], False


def find_recipients(text: str, excluded: set[str], weak_excluded: set[str]) -> list[TextRecipient]:
    """Failed recipients named in the explanation text, each with its own explanation.

    Addresses in `excluded` (lower-cased; the bounce's own sender) are never reported.
    `weak_excluded` (our return path, the original's sender) is skipped only when the
    address is merely mentioned, not printed in a recipient layout: people mail themselves.
    """
    anchors, strong = _anchors(text, excluded, weak_excluded)
    recipients: list[TextRecipient] = []
    for index, (start, email) in enumerate(anchors):
        line_start = text.rfind("\n", 0, start) + 1
        end = anchors[index + 1][0] if index + 1 < len(anchors) else len(text)
        end = text.rfind("\n", 0, end) + 1 if index + 1 < len(anchors) else end
        block = text[line_start : max(end, start + len(email))]
        recipients.append(TextRecipient(email=email, explanation=block, strong=strong))
    return recipients


def explanation_for(recipient: TextRecipient, whole: str) -> str:
    """The recipient's own block when it explains anything, otherwise the whole text
    (many MTAs list all addresses first and give one shared reason)."""
    block = recipient.explanation[:EXPLANATION_LIMIT]
    if (
        find_status(block)
        or find_reply_code(block)
        or reason_of(block.replace(recipient.email, ""))
    ):
        return block
    return whole[:EXPLANATION_LIMIT]
