"""Parses raw RFC 5322/MIME bytes into a ParsedMessage: headers, addresses, bodies, attachments.

Owns the result types, the parse limits, body text assembly and attachment extraction (body
selection lives in mime_tree.py, header decoding in header_fields.py). Pure: no I/O, no clock,
and it never raises on any input; whatever is wrong with a message is reported in `defects`.
"""

import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email.message import Message

from mailparse import mime_tree
from mailparse.filenames import safe_filename
from mailparse.header_fields import (
    Address,
    decode_text,
    decode_words,
    first_address,
    parse_addresses,
    parse_date,
    parse_msg_ids,
    unescape_8bit,
)
from mailparse.html_text import html_to_text
from mailparse.quotes import strip_quotes, unflow

__all__ = [
    "Address",
    "ParseLimits",
    "ParsedAttachment",
    "ParsedMessage",
    "html_to_text",
    "parse_message",
]

_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE2 compound file: Outlook .msg, old .doc
# Multipart levels allowed past max_depth before the input is cut: the walk reports the
# depth defect exactly, the cut only protects the parser and must never hit real mail.
_NESTING_SLACK = 10
_OBS_NAME = re.compile(rb"^([!-9;-~]+)[ \t]+:", re.M)
_UU_TYPE = "application/octet-stream"
_UU_BLOCK = re.compile(r"^begin [0-7]{3,4} (\S[^\n]*)\n(.*?)^end[ \t]*$\n?", re.M | re.S)


@dataclass(frozen=True)
class ParsedAttachment:
    """One non-body leaf part, decoded; `filename` is always safe to use as a file name."""

    filename: str
    content_type: str
    size: int
    sha256: str
    content: bytes
    content_id: str | None
    inline: bool


@dataclass(frozen=True)
class ParseLimits:
    """Bounds on work done for one message; parts beyond them are reported, not parsed."""

    max_depth: int = 10
    max_parts: int = 1000
    max_header_bytes: int = 1_000_000


@dataclass(frozen=True)
class ParsedMessage:
    """Everything the platform needs from one received message (see parse_message)."""

    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    subject: str
    from_: Address | None
    sender: Address | None
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    date: datetime | None
    headers: tuple[tuple[str, str], ...]
    content_type: str
    text: str | None
    html: str | None
    stripped_text: str | None
    attachments: tuple[ParsedAttachment, ...]
    defects: tuple[str, ...]


def _charset(part: Message) -> str | None:
    value = mime_tree.safely(None, part.get_content_charset)
    return value if isinstance(value, str) else None


def _text_of(part: Message) -> str:
    text = decode_text(mime_tree.payload(part), _charset(part))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if mime_tree.param(part, "format").lower() == "flowed":
        text = unflow(text, delsp=mime_tree.param(part, "delsp").lower() == "yes")
    return text


def _uudecode(block: str) -> bytes:
    chunks: list[bytes] = []
    for line in block.splitlines():
        # As in the email package: for encoders that pad lines, decode only the declared length.
        size = (((ord(line[0]) - 32) & 63) * 4 + 5) // 3 if line else 0
        for candidate in (line, line[:size]):
            try:
                chunks.append(binascii.a2b_uu(candidate))
                break
            except (binascii.Error, ValueError):
                continue
    return b"".join(chunks)


def _split_uuencoded(text: str) -> tuple[str, list[tuple[str, bytes]]]:
    """Cut uuencoded blocks out of a plain-text body and return them as (name, bytes)."""
    if "begin " not in text:
        return text, []
    found = [(m.group(1).strip(), _uudecode(m.group(2))) for m in _UU_BLOCK.finditer(text)]
    return (_UU_BLOCK.sub("", text), found) if found else (text, [])


def _file(name: str, ctype: str, content: bytes, cid: str | None, inline: bool) -> ParsedAttachment:
    digest = hashlib.sha256(content).hexdigest()
    return ParsedAttachment(name, ctype, len(content), digest, content, cid, inline)


def _attachment(part: Message, index: int, html: str) -> ParsedAttachment:
    ctype = mime_tree.content_type(part)
    name = mime_tree.filename(part)
    if ctype in ("message/rfc822", "message/global"):
        inner = next(iter(mime_tree.children(part)), None)
        subject = mime_tree.raw_header(inner, "subject") if inner is not None else None
        # A subject is prose, not a path: keep its slashes from being read as directories.
        title = " ".join(decode_words(subject or "").split()).replace("/", "_").replace("\\", "_")
        name = f"{title}.eml" if title else name
    cid = (mime_tree.raw_header(part, "content-id") or "").strip().strip("<>").strip() or None
    inline = mime_tree.disposition(part) == "inline" or (cid is not None and f"cid:{cid}" in html)
    return _file(safe_filename(name, index, ctype), ctype, mime_tree.payload(part), cid, inline)


def _bodies(picked: mime_tree.Pick) -> tuple[str | None, str | None, list[tuple[str, bytes]]]:
    """Text body, HTML body and any files uuencoded inside the text."""
    texts: list[str] = []
    uuencoded: list[tuple[str, bytes]] = []
    for part in picked.text:
        body, found = _split_uuencoded(_text_of(part))
        texts.append(body)
        uuencoded.extend(found)
    htmls = [decode_text(mime_tree.payload(part), _charset(part)) for part in picked.html]
    html = "\n".join(htmls) if htmls else None
    text: str | None = texts[0] if len(texts) == 1 else None
    if len(texts) > 1:
        text = "\n\n".join(t.rstrip("\n") for t in texts)
    if text is None and html is not None:
        text = html_to_text(html)
    return text, html, uuencoded


def _limit_header_bytes(raw: bytes, limit: int, defects: list[str]) -> bytes:
    match = mime_tree.HEADER_END.search(raw)
    end = match.start() if match else len(raw)
    if end <= limit:
        return raw
    defects.append("max_header_bytes_exceeded")
    # Keep whole header lines up to the limit and the body untouched; the rest is dropped.
    cut = (raw.rfind(b"\n", 0, limit) + 1) or (raw.rfind(b"\r", 0, limit) + 1)
    if match is None:
        return raw[:cut]
    separator = match.group()  # a blank line in the message's own line ending
    return raw[:cut] + separator[: len(separator) // 2] + raw[match.end() :]


def _normalise_head(raw: bytes) -> bytes:
    # A UTF-8 BOM or leading blank lines (added by some tools) would end the header block at once.
    raw = raw.removeprefix(b"\xef\xbb\xbf").lstrip(b"\r\n")
    match = mime_tree.HEADER_END.search(raw)
    end = match.start() if match else len(raw)
    if not _OBS_NAME.search(raw, 0, end):
        return raw
    # RFC 5322 obsolete syntax allows "Subject  : x"; the feed parser would take it for body text.
    return _OBS_NAME.sub(rb"\1:", raw[:end]) + raw[end:]


def _parse_tree(raw: bytes, defects: list[str]) -> tuple[Message, bool]:
    try:
        return mime_tree.parse_bytes(raw), True
    except RecursionError:
        # Nesting deep enough to exhaust the parser's stack: keep the headers, skip the body.
        defects.append("max_depth_exceeded")
        return mime_tree.parse_bytes(raw, headersonly=True), False


def _empty(ctype: str, defects: list[str]) -> ParsedMessage:
    """A result with no headers or content: input that could not be read as a message at all."""
    return ParsedMessage(
        message_id=None,
        in_reply_to=None,
        references=(),
        subject="",
        from_=None,
        sender=None,
        to=(),
        cc=(),
        reply_to=(),
        date=None,
        headers=(),
        content_type=ctype,
        text=None,
        html=None,
        stripped_text=None,
        attachments=(),
        defects=tuple(dict.fromkeys(defects)),
    )


def _build(raw: bytes, limits: ParseLimits) -> ParsedMessage:
    if raw.startswith(_CFB_MAGIC):
        return _empty("application/vnd.ms-outlook", ["not_rfc5322"])
    defects: list[str] = []
    raw = _limit_header_bytes(_normalise_head(raw), limits.max_header_bytes, defects)
    cut = mime_tree.nesting_cut(raw, limits.max_depth + _NESTING_SLACK)
    if cut is not None:
        defects.append("max_depth_exceeded")
        raw = raw[:cut]
    msg, complete = _parse_tree(raw, defects)
    items = [(unescape_8bit(k).strip(), unescape_8bit(v)) for k, v in msg.raw_items()]
    if not items:
        # Nothing header-shaped at the start: a stray file (.zip, XML, ...), not a message.
        return _empty("application/octet-stream", [*defects, "not_rfc5322"])
    values: dict[str, list[str]] = {}
    for name, value in items:
        values.setdefault(name.lower(), []).append(value)

    def first(name: str) -> str:
        return values.get(name, [""])[0]

    def addresses(name: str) -> tuple[Address, ...]:
        return tuple(a for v in values.get(name, []) for a in parse_addresses(v))

    walk = mime_tree.Walk(limits.max_depth, limits.max_parts)
    picked = mime_tree.pick(msg, 0, walk) if complete else mime_tree.Pick()
    text, html, uuencoded = _bodies(picked)
    attachments = [_attachment(part, i + 1, html or "") for i, part in enumerate(picked.rest)]
    for name, content in uuencoded:
        fallback = len(attachments) + 1
        attachments.append(
            _file(safe_filename(name, fallback, _UU_TYPE), _UU_TYPE, content, None, False)
        )
    defects += [type(d).__name__ for part in walk.visited for d in part.defects] + walk.defects
    refs = (i for v in values.get("references", []) for i in parse_msg_ids(v))
    message_ids = parse_msg_ids(first("message-id"), bare=True)
    return ParsedMessage(
        message_id=message_ids[0] if message_ids else None,
        in_reply_to=next(iter(parse_msg_ids(first("in-reply-to"))), None),
        references=tuple(dict.fromkeys(refs)),
        subject=" ".join(decode_words(first("subject")).split()),
        from_=first_address(first("from")),
        sender=first_address(first("sender")),
        to=addresses("to"),
        cc=addresses("cc"),
        reply_to=addresses("reply-to"),
        date=parse_date(first("date")),
        headers=tuple((name, decode_words(value)) for name, value in items),
        content_type=mime_tree.content_type(msg),
        text=text,
        html=html,
        stripped_text=strip_quotes(text) if text is not None else None,
        attachments=tuple(attachments),
        defects=tuple(dict.fromkeys(defects)),
    )


_DEFAULT_LIMITS = ParseLimits()  # frozen, so one shared default is safe


def parse_message(raw: bytes, limits: ParseLimits = _DEFAULT_LIMITS) -> ParsedMessage:
    """Parse one raw message; never raises, whatever the bytes."""
    try:
        return _build(bytes(raw), limits)
    except Exception as exc:  # noqa: BLE001 - last line of defence; the raw bytes are kept upstream
        return _empty("application/octet-stream", [f"parse_failed:{type(exc).__name__}"])
