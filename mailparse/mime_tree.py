"""Walks a parsed MIME tree under depth/part limits and sorts its leaves into body and attachments.

Owns the parser policy, the pre-parse nesting cut, body selection (multipart/alternative,
related, mixed), recovery of multiparts whose boundary was lost or which hide parts after their
close delimiter, and tolerant accessors for parts. Pure: no I/O, never raises.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from email.policy import EmailPolicy

from mailparse.header_fields import decode_words, unescape_8bit

HEADER_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")
_BOUNDARY_PARAM = re.compile(rb'boundary\s*=\s*"?([^"\r\n;]+)', re.I)
# A delimiter line followed by a header line or a blank line: how a lost boundary is re-found.
_DELIMITER = re.compile(r"^--([^\s\"]{1,200})[ \t]*\r?\n(?:\r?\n|[!-9;-~]+:)", re.M)


class _ParsePolicy(EmailPolicy):
    """policy.default, except that fetching a header returns its unfolded source text (a str).

    Everything we read goes through Message accessors that only use str(header) (content type,
    parameters, filename) or through raw_items(). Skipping the structured header objects halves
    parse time and keeps the feed parser clear of _header_value_parser, which is slow or raises
    on some hostile values (a 135 KB To: header takes 0.7 s there) and cannot read an unquoted
    boundary containing "=".
    """

    def header_fetch_parse(self, name: str, value: str) -> str:
        return "".join(value.splitlines())


PARSE_POLICY = _ParsePolicy()
# refold_source="none" writes parsed headers back exactly as received when an attached
# message is serialised, so its bytes stay as close to the original as the email package allows.
_WRITE_POLICY = _ParsePolicy(refold_source="none")


def nesting_cut(raw: bytes, max_depth: int) -> int | None:
    """Offset of the first line nested deeper than max_depth multiparts, found by a line scan.

    The feed parser tests every line against every open boundary, so a few thousand nested
    multiparts in 50 KB cost seconds; cutting the input first keeps parsing linear. The scan
    only needs to be roughly right: it runs with slack and only on suspicious input.
    """
    if raw.count(b"oundary") <= max_depth:
        return None  # cannot nest that deep without that many boundary parameters
    stack: list[bytes] = []
    in_headers, multipart, message, offset = True, False, False, 0
    for line in raw.splitlines(keepends=True):
        text = line.rstrip(b"\r\n")
        if in_headers and text.strip():
            lowered = text.lower()
            multipart = multipart or b"multipart/" in lowered
            message = message or b"message/" in lowered
            found = _BOUNDARY_PARAM.search(text) if multipart else None
            if found:
                stack.append(found.group(1))
        elif in_headers:  # blank line: a message/* body starts with another header block
            in_headers, multipart, message = message, False, False
        elif text.startswith(b"--"):
            token = text[2:].rstrip(b" \t")
            closing = token.endswith(b"--") and token[:-2] in stack
            key = token[:-2] if closing else token
            if key in stack:
                depth = len(stack) - stack[::-1].index(key)  # innermost use of that boundary
                del stack[depth - 1 if closing else depth :]
                in_headers = not closing
        if len(stack) > max_depth:
            return offset
        offset += len(line)
    return None


def parse_bytes(raw: bytes, headersonly: bool = False) -> Message:
    """Run the email package's feed parser with our policy."""
    return BytesParser(policy=PARSE_POLICY).parsebytes(raw, headersonly=headersonly)


def safely(default: object, func: Callable[..., object], *args: object) -> object:
    """Call func, returning default if it raises: one bad header must not sink the message."""
    try:
        return func(*args)
    except Exception:  # noqa: BLE001
        return default


def content_type(part: Message) -> str:
    return str(safely("application/octet-stream", part.get_content_type)).lower()


def disposition(part: Message) -> str | None:
    value = safely(None, part.get_content_disposition)
    return value if isinstance(value, str) else None


def filename(part: Message) -> str | None:
    """The part's filename parameter, RFC 2231 (email package) and RFC 2047 (ours) decoded."""
    raw = safely(None, part.get_filename)
    return decode_words(unescape_8bit(raw)) if isinstance(raw, str) and raw.strip() else None


def param(part: Message, name: str) -> str:
    value = safely(None, part.get_param, name)
    return value if isinstance(value, str) else ""


def children(part: Message) -> list[Message]:
    """Sub-parts of a multipart or message/* part (none for a leaf)."""
    payload = part.get_payload() if part.is_multipart() else []
    return [child for child in payload if isinstance(child, Message)]


def raw_header(part: Message, name: str) -> str | None:
    for key, value in part.raw_items():
        if key.strip().lower() == name:
            return unescape_8bit(value)
    return None


def payload(part: Message) -> bytes:
    """Decoded body bytes of a leaf; the serialised body of a message/* part."""
    if not part.is_multipart():
        data = safely(b"", part.get_payload, None, True)
        return data if isinstance(data, bytes) else b""
    try:
        # Flattening the part and dropping its own header block leaves exactly its body:
        # the enclosed message for message/rfc822, the status blocks for delivery-status.
        data = part.as_bytes(policy=_WRITE_POLICY)
    except Exception:  # noqa: BLE001 - includes RecursionError on absurd nesting
        return b""
    # The generator always ends the header block with one "\n", even when there are no headers
    # (digest parts), so the body starts after the first blank line or the leading newline.
    if data.startswith(b"\n"):
        return data[1:]
    end = data.find(b"\n\n")
    return data[end + 2 :] if end >= 0 else b""


@dataclass
class Pick:
    """Leaves of a subtree sorted into text body, HTML body and attachments ("rest")."""

    text: list[Message] = field(default_factory=list)
    html: list[Message] = field(default_factory=list)
    rest: list[Message] = field(default_factory=list)


@dataclass
class Walk:
    """Limits and what a walk found: visited parts (for their defects) and limit defects."""

    max_depth: int
    max_parts: int
    parts: int = 0
    defects: list[str] = field(default_factory=list)
    visited: list[Message] = field(default_factory=list)

    def admit(self, part: Message, depth: int) -> bool:
        if depth > self.max_depth:
            self.defects.append("max_depth_exceeded")
            return False
        if self.parts >= self.max_parts:
            self.defects.append("max_parts_exceeded")
            return False
        self.parts += 1
        self.visited.append(part)
        return True


def _alternative(picks: list[Pick]) -> Pick:
    # Each child renders the same content: take the first rendering of each kind and keep the
    # unused renderings (e.g. a text/calendar invite) as attachments.
    pick = Pick()
    for child in picks:
        for mine, theirs in ((pick.text, child.text), (pick.html, child.html)):
            (pick.rest if mine else mine).extend(theirs)
        pick.rest.extend(child.rest)
    return pick


def _mixed(picks: list[Pick]) -> Pick:
    # The first child with a body sets the body. Later inline text of a kind already present
    # continues it (Apple Mail splits a body around inline images); a kind that was not present
    # is not an alternative of that body, so it becomes an attachment (MimeKit does the same).
    pick = Pick()
    for child in picks:
        started = bool(pick.text or pick.html)
        for mine, theirs in ((pick.text, child.text), (pick.html, child.html)):
            (mine if mine or not started else pick.rest).extend(theirs)
        pick.rest.extend(child.rest)
    return pick


def _related(part: Message, picks: list[Pick]) -> Pick:
    # The root (the "start" parameter, else the first part) is the body; the rest are resources.
    start = param(part, "start").strip()
    ids = [(raw_header(p, "content-id") or "").strip() for p in children(part)]
    index = ids.index(start) if start and start in ids[: len(picks)] else 0
    root = picks[index]
    others = [leaf for i, c in enumerate(picks) if i != index for leaf in c.text + c.html + c.rest]
    return Pick(root.text, root.html, root.rest + others)


def _recover(part: Message, ctype: str) -> Message | None:
    """Re-parse a multipart whose boundary was missing or never found, using its first delimiter."""
    body = part.get_payload()
    match = _DELIMITER.search(body[:65536]) if isinstance(body, str) else None
    if match is None or not isinstance(body, str):
        return None
    head = f'Content-Type: {ctype}; boundary="{match.group(1)}"\n\n'
    recovered = parse_bytes(
        head.encode("ascii", "surrogateescape") + body.encode("ascii", "surrogateescape")
    )
    return recovered if recovered.is_multipart() else None


def _epilogue_parts(part: Message) -> Message | None:
    """Parse MIME parts hidden in the epilogue (after the close delimiter), if there are any."""
    epilogue, boundary = part.epilogue, part.get_boundary()
    if not epilogue or not boundary or '"' in boundary or f"--{boundary}" not in epilogue:
        return None
    head = f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n\n'
    hidden = parse_bytes((head + epilogue).encode("ascii", "surrogateescape"))
    return hidden if hidden.is_multipart() and hidden.get_payload() else None


def _scan(part: Message, depth: int, walk: Walk) -> None:
    """Count (and bound) the parts inside an attached message without extracting them."""
    if walk.admit(part, depth):
        for child in children(part):
            _scan(child, depth + 1, walk)


def pick(part: Message, depth: int, walk: Walk) -> Pick:
    """Sort the leaves under `part` into text body, HTML body and attachments."""
    if not walk.admit(part, depth):
        return Pick()
    ctype = content_type(part)
    if ctype.startswith("message/") and part.is_multipart():
        for child in children(part):
            _scan(child, depth + 1, walk)
        return Pick(rest=[part])  # an attached message is one attachment, never body text
    if ctype.startswith("multipart/"):
        if not part.is_multipart():
            recovered = safely(None, _recover, part, ctype)
            if isinstance(recovered, Message):
                return pick(recovered, depth, walk)
            # Unrecoverable ("multipart" with no parts at all): read what is there as text.
            return Pick(text=[part]) if payload(part).strip() else Pick()
        picks = [pick(child, depth + 1, walk) for child in children(part)]
        hidden = safely(None, _epilogue_parts, part)
        if isinstance(hidden, Message):
            # Parts after the closing delimiter are invisible to mail clients but not to
            # malware scanners; surface them as attachments, never as body text.
            walk.defects.append("parts_after_close_boundary")
            extra = pick(hidden, depth + 1, walk)
            picks.append(Pick(rest=extra.text + extra.html + extra.rest))
        if ctype == "multipart/alternative":
            return _alternative(picks)
        if ctype == "multipart/related" and picks:
            return _related(part, picks)
        return _mixed(picks)
    # A named text part is a file the sender attached (mail-parser agrees), not body text.
    named = disposition(part) == "attachment" or filename(part) is not None
    if ctype in ("text/plain", "text/html") and not named:
        return Pick(text=[part]) if ctype == "text/plain" else Pick(html=[part])
    return Pick(rest=[part])
