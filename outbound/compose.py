"""Composing outbound mail: address validation (email-validator), header-injection checks,
the custom-header allowlist, signatures, reply/forward shaping and RFC 5322 MIME building with
`email.message.EmailMessage`. Pure: no I/O, no database; errors name the request field.
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

import email_validator

from mailparse.subjects import is_forward_subject, is_reply_subject

# Custom headers a sender may set: X-* and these (everything else is ours to write).
ALLOWED_HEADERS = frozenset(
    {"list-unsubscribe", "list-unsubscribe-post", "list-id", "auto-submitted", "precedence",
     "importance", "priority", "x-priority", "keywords", "comments"}
)  # fmt: skip
_HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,75}$")
_RESERVED_PREFIX = "x-postflow-"
MAX_REFERENCES = 20
_SAFE_ID = re.compile(r"[!-;=?-~]{1,250}")
# The domain part of addresses on special-use names (.local, .test ...) is checked here, since
# email-validator refuses them as undeliverable while our own inboxes live on such names.
_HOSTNAME = re.compile(r"^([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9-]{1,63}$")


class ComposeError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def one_line(value: str, fld: str) -> str:
    """A header value: no CR, LF or other line break (header injection), no NUL."""
    if "\x00" in value or "".join(value.splitlines()) != value or "\r" in value or "\n" in value:
        raise ComposeError(fld, "must not contain CR, LF or other line breaks")
    return value


def parse_address(value: str, fld: str) -> tuple[str, str]:
    """`a@b` or `Name <a@b>` -> (display name, normalized address); 422 naming `fld`."""
    one_line(value, fld)
    if len(value) > 400:
        raise ComposeError(fld, "address too long")
    kwargs = dict(check_deliverability=False, globally_deliverable=False, test_environment=True,
                  allow_display_name=True)  # fmt: skip
    try:
        r = email_validator.validate_email(value.strip(), **kwargs)  # type: ignore[arg-type]
        return (r.display_name or ""), r.normalized
    except email_validator.EmailNotValidError as exc:
        msg = str(exc)
        if "special-use or reserved" not in msg:
            raise ComposeError(fld, f"{value[:100]!r} is not a valid address: {msg}") from None
    # A special-use domain: validate the local part with a stand-in domain, the domain by hand.
    name, _, rest = value.strip().rpartition("<")
    addr = rest.rstrip(">").strip() if rest.endswith(">") and name else value.strip()
    local, at, domain = addr.rpartition("@")
    if not at or not _HOSTNAME.match(domain) or len(domain) > 253:
        raise ComposeError(fld, f"{value[:100]!r} is not a valid address")
    try:
        r = email_validator.validate_email(f"{local}@example.com", **kwargs)  # type: ignore[arg-type]
    except email_validator.EmailNotValidError as exc:
        raise ComposeError(fld, f"{value[:100]!r} is not a valid address: {exc}") from None
    display = name.strip().strip('"') if name else ""
    return display, f"{r.local_part}@{domain.lower()}"


def parse_addresses(values: str | list[str] | None, fld: str) -> list[tuple[str, str]]:
    items = [values] if isinstance(values, str) else list(values or [])
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        name, addr = parse_address(item, f"{fld}[{i}]" if not isinstance(values, str) else fld)
        if addr.lower() not in seen:
            seen.add(addr.lower())
            out.append((name, addr))
    return out


def check_custom_headers(headers: dict[str, str] | None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name, value in (headers or {}).items():
        fld = f"headers.{name}"
        if not _HEADER_NAME.match(name):
            raise ComposeError("headers", f"{name[:80]!r} is not a valid header name")
        low = name.lower()
        if low.startswith(_RESERVED_PREFIX) or not (low.startswith("x-") or low in ALLOWED_HEADERS):
            raise ComposeError(fld, f"header {name!r} is not allowed (X-* and "
                                    f"{', '.join(sorted(ALLOWED_HEADERS))})")  # fmt: skip
        if len(value) > 998:
            raise ComposeError(fld, "header value too long")
        out.append((name, one_line(value, fld)))
    return out


def with_signature(text: str | None, html: str | None, sig_text: str | None,
                   sig_html: str | None) -> tuple[str | None, str | None]:  # fmt: skip
    """Append the inbox's signature to whichever bodies exist (text gets the sig-dash line)."""
    if sig_text and text is not None:
        text = f"{text.rstrip()}\n\n-- \n{sig_text}"
    sig_h = sig_html or (html_lib.escape(sig_text).replace("\n", "<br>") if sig_text else None)
    if sig_h and html is not None:
        marker = "</body>"
        block = f'<div class="signature">-- <br>{sig_h}</div>'
        html = html.replace(marker, block + marker, 1) if marker in html else html + block
    return text, html


def reply_subject(subject: str) -> str:
    s = " ".join((subject or "").split())
    return s if is_reply_subject(s) else f"Re: {s}"


def forward_subject(subject: str) -> str:
    s = " ".join((subject or "").split())
    return s if is_forward_subject(s) else f"Fwd: {s}"


def reference_chain(parent_refs: list[str], parent_id: str | None) -> tuple[str | None, list[str]]:
    """(In-Reply-To, References) continuing the parent's chain, bounded and sanitised."""
    chain = [*parent_refs, *([parent_id] if parent_id else [])]
    refs = [r for r in chain if _SAFE_ID.fullmatch(r)][-MAX_REFERENCES:]
    in_reply_to = parent_id if parent_id and refs and refs[-1] == parent_id else None
    return in_reply_to, refs


@dataclass
class OutgoingAttachment:
    filename: str
    content_type: str
    content: bytes


@dataclass
class MimeSpec:
    from_name: str
    from_address: str
    to: list[tuple[str, str]]
    cc: list[tuple[str, str]]
    reply_to: list[tuple[str, str]]
    subject: str
    text: str | None
    html: str | None
    message_id: str  # without <>
    date: datetime
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    attachments: list[OutgoingAttachment] = field(default_factory=list)
    forwarded: bytes | None = None  # the original message, attached as message/rfc822


def _addr(name: str, email: str) -> Address:
    local, _, domain = email.rpartition("@")
    return Address(display_name=name, username=local, domain=domain)


def build_mime(spec: MimeSpec) -> bytes:
    """The message as RFC 5322 bytes (CRLF). Bcc is envelope-only and never a header."""
    msg = EmailMessage(policy=SMTP)
    msg["From"] = _addr(spec.from_name, spec.from_address)
    if spec.to:
        msg["To"] = [_addr(n, e) for n, e in spec.to]
    if spec.cc:
        msg["Cc"] = [_addr(n, e) for n, e in spec.cc]
    if spec.reply_to:
        msg["Reply-To"] = [_addr(n, e) for n, e in spec.reply_to]
    msg["Subject"] = spec.subject
    msg["Date"] = format_datetime(spec.date)
    msg["Message-ID"] = f"<{spec.message_id}>"
    if spec.in_reply_to:
        msg["In-Reply-To"] = f"<{spec.in_reply_to}>"
    if spec.references:
        msg["References"] = " ".join(f"<{r}>" for r in spec.references)
    for name, value in spec.headers:
        msg[name] = value
    text = spec.text if spec.text is not None or spec.html is not None else ""
    if text is not None:
        msg.set_content(text)
        if spec.html is not None:
            msg.add_alternative(spec.html, subtype="html")
    elif spec.html is not None:
        msg.set_content(spec.html, subtype="html")
    for att in spec.attachments:
        maintype, _, subtype = att.content_type.partition("/")
        msg.add_attachment(att.content, maintype=maintype or "application",
                           subtype=subtype or "octet-stream", filename=att.filename)  # fmt: skip
    if spec.forwarded is not None:
        from email import message_from_bytes

        original = message_from_bytes(spec.forwarded, policy=SMTP)
        msg.add_attachment(original, filename="forwarded.eml")
    return msg.as_bytes()


def forward_body(comment: str | None, original_text: str, *, sender: str, date: str,
                 subject: str, to: str) -> str:  # fmt: skip
    """The inline forward: comment, then the original with the usual header block."""
    head = (f"---------- Forwarded message ---------\nFrom: {sender}\nDate: {date}\n"
            f"Subject: {subject}\nTo: {to}\n\n")  # fmt: skip
    return f"{comment.rstrip()}\n\n{head}{original_text}" if comment else head + original_text
