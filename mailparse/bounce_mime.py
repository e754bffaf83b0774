"""Tolerant MIME access for report parsing: load bytes, decode parts to text, find the
original message a report is about, and read its Message-ID.

Pure: works on bytes already in memory, no I/O. Report mail is often malformed, so every
helper here degrades to an empty value instead of raising.
"""

from __future__ import annotations

import quopri
import re
from collections.abc import Iterator
from email import message_from_bytes, message_from_string
from email.header import decode_header
from email.message import Message
from email.policy import compat32

# Deeply nested MIME (a known denial-of-service shape) is cut off here rather than walked.
MAX_DEPTH = 12
MAX_PARTS = 200
_MSGID_RE = re.compile(r"<?\s*([^<>\s]+@[^<>\s]+?)\s*>?(?:\s|$)")
_HEADER_LINE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]*:[ \t]*\S?")


def load(raw: bytes) -> Message:
    """Parse raw bytes with the lenient compat32 policy (it keeps going past defects)."""
    # A byte-order mark (some Windows tools save one) would otherwise hide the first header.
    return message_from_bytes(raw.removeprefix(b"\xef\xbb\xbf"), policy=compat32)


def header(msg: Message, name: str) -> str:
    """The header as decoded, unfolded text ("" when absent or undecodable)."""
    value = msg.get(name)
    if value is None:
        return ""
    try:
        chunks = decode_header(value)
    except Exception:  # noqa: BLE001 - malformed encoded-words; keep the raw form
        return " ".join(str(value).split())
    words: list[str] = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            words.append(chunk)
            continue
        # compat32 hands raw 8-bit headers over as charset "unknown-8bit": try UTF-8.
        codec = charset if charset and charset != "unknown-8bit" else "utf-8"
        try:
            words.append(chunk.decode(codec, "replace"))
        except (LookupError, ValueError):  # unknown or malformed charset names
            words.append(chunk.decode("utf-8", "replace"))
    return " ".join("".join(words).split())


def walk(msg: Message) -> Iterator[Message]:
    """Depth-first parts, bounded in depth and count; message/rfc822 bodies are not entered."""
    stack: list[tuple[Message, int]] = [(msg, 0)]
    seen = 0
    while stack and seen < MAX_PARTS:
        part, depth = stack.pop()
        seen += 1
        yield part
        payload = part.get_payload()
        if depth < MAX_DEPTH and part.is_multipart() and isinstance(payload, list):
            if part.get_content_maintype() == "message":
                continue
            stack.extend((child, depth + 1) for child in reversed(payload))


def part_text(part: Message) -> str:
    """A leaf part's body as text with universal newlines; message/* parts are re-serialised."""
    payload = part.get_payload()
    if isinstance(payload, list):
        # compat32 parses message/* bodies into sub-messages; flatten them back to text.
        return "\n".join(_flatten(child) for child in payload if isinstance(child, Message))
    cte = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    if cte == "quoted-printable" and isinstance(payload, str):
        # binascii's decoder only knows "=\n" soft breaks; CR-only mail would be cut short.
        flat = payload.replace("\r\n", "\n").replace("\r", "\n")
        data: bytes | None = quopri.decodestring(flat.encode("utf-8", "surrogateescape"))
    else:
        raw = part.get_payload(decode=True)
        data = raw if isinstance(raw, bytes) else None
    if data is None:
        data = str(payload).encode("utf-8", "surrogateescape")
    charset = part.get_content_charset() or "utf-8"
    try:
        text = data.decode(charset, "replace")
    except (LookupError, ValueError):  # unknown or malformed charset names
        text = data.decode("utf-8", "replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _flatten(msg: Message) -> str:
    lines = [f"{name}: {value}" for name, value in msg.items()]
    body = msg.get_payload()
    if isinstance(body, str) and body.strip():
        lines.extend(["", body])
    return "\n".join(lines).replace("\r\n", "\n").replace("\r", "\n") + "\n"


def clean_message_id(value: str) -> str | None:
    """A Message-ID value without angle brackets, or None."""
    found = _MSGID_RE.search(value.strip()[:998] + " ")  # RFC 5322 line limit
    return found.group(1) if found else None


def attached_original(msg: Message) -> Message | None:
    """The returned original (message/rfc822 or text/rfc822-headers part) if attached."""
    for part in walk(msg):
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "message/global", "message/rfc822-headers"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return _with_stray_headers(payload[0])
            return headers_from_text(part_text(part))
        if ctype in ("text/rfc822-headers", "message/global-headers"):
            return headers_from_text(part_text(part))
    return None


def _with_stray_headers(original: Message) -> Message:
    """Header fields that a stray blank line pushed into the body (seen in the RFC 5965
    example itself) are added back, so Message-ID and To are still found."""
    body = original.get_payload()
    if original.get("Message-ID") is not None or not isinstance(body, str):
        return original
    stray = headers_from_text(body)
    if stray is not None and stray.get("Message-ID") is not None:
        for name, value in stray.items():
            if original.get(name) is None:
                original[name] = value
    return original


def headers_from_text(text: str) -> Message | None:
    """Parse a header block found in free text (the copy of the original in a text bounce)."""
    lines = text.lstrip("\n").split("\n")
    start = next((i for i, line in enumerate(lines) if _HEADER_LINE_RE.match(line)), None)
    if start is None:
        return None
    block: list[str] = []
    for line in lines[start:]:
        if not line.strip():
            break
        if _HEADER_LINE_RE.match(line) or (line[:1] in " \t" and block):
            block.append(line)
        elif line.startswith(">") or line.startswith("From "):
            continue
        else:
            break
    if not block:
        return None
    return message_from_string("\n".join(block) + "\n\n", policy=compat32)
