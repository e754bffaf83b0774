"""Decodes header values for parse.py: charsets, RFC 2047 words, addresses, msg-ids, dates.

Lenient on purpose (real mail breaks every rule) and never raises. Pure: no I/O. Returned strings
never contain NUL or lone surrogates, because they go straight into PostgreSQL text columns.
"""

import binascii
import codecs
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class Address:
    """One mailbox: decoded display name ("" when none) and addr-spec with lower-cased domain."""

    name: str
    email: str


# Labels seen in real mail that Python either does not know or knows as a narrower charset;
# decoding with the superset is what mail clients do.
_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "x-sjis": "cp932",
    "iso-8859-8-i": "iso-8859-8",
    "windows-874": "cp874",
    "unicode-1-1-utf-7": "utf-7",
}
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")
_UNSAFE = re.compile("[\x00\ud800-\udfff]")
_ANGLED = re.compile(r"<([^<>]*)>")
_LINE_BREAKS = re.compile(r"[\r\n]")
_LOCAL = re.compile(r'"(?:[^"\\]|\\.)*"|[^\s<>(),;:@"\[\]]+')
_DOMAIN = re.compile(r'[^\s<>(),;:@"\[\]]+|\[[^\[\]\s]*\]')
# Quoted strings, comments and <...> are single tokens, so separators inside them are ignored.
_ADDRESS_TOKEN = re.compile(
    r'"(?:[^"\\]|\\.)*"?|\((?:[^()\\]|\\.)*\)?|<[^<>]*>?|[,;:]|[^",;:(<]+|.', re.S
)
_COMMENT_OR_SPACE = re.compile(r"\([^()]*\)|\s+")
_TRAILING_COMMENT = re.compile(r"^(.*?)\s*\(([^()]*)\)\s*$", re.S)


def _clean(text: str) -> str:
    return _UNSAFE.sub("\ufffd", text) if _UNSAFE.search(text) else text


def _codec(charset: str | None) -> str | None:
    if not charset:
        return None
    label = charset.strip().strip("\"'").lower()
    label = _CHARSET_ALIASES.get(label, label)
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError):
        return None
    if info.name == "iso8859-1":
        return "cp1252"  # as every browser does (WHATWG): "latin-1" mail is mostly Windows text
    # codecs.lookup also finds bytes-to-bytes codecs such as "zlib" and "base64".
    return info.name if getattr(info, "_is_text_encoding", True) else None


def decode_text(data: bytes, charset: str | None) -> str:
    """Decode with the declared charset, then UTF-8, then a lossy last resort; never raises."""
    codec = _codec(charset)
    for candidate in dict.fromkeys(c for c in (codec, "utf-8") if c):
        try:
            return _clean(data.decode(candidate))
        except Exception:  # noqa: BLE001, S112 - UnicodeDecodeError or a codec's own error
            continue
    # A known non-ASCII charset with a few bad bytes keeps most text right with "replace";
    # latin-1 would turn all of a Shift_JIS body into mojibake. Unlabelled 8-bit is latin-1.
    fallback = codec if codec is not None and codec not in ("ascii", "utf-8") else "latin-1"
    try:
        return _clean(data.decode(fallback, errors="replace"))
    except Exception:  # noqa: BLE001
        return _clean(data.decode("latin-1"))


def unescape_8bit(value: str) -> str:
    """Turn raw 8-bit header bytes (surrogate-escaped by the parser) into text (UTF-8/latin-1)."""
    if not _UNSAFE.search(value):
        return value
    return decode_text(value.encode("utf-8", "surrogateescape"), "utf-8")


def _word_bytes(encoding: str, text: str) -> bytes:
    try:
        if encoding in "bB":
            data = _NOT_BASE64.sub(b"", text.encode("ascii", "ignore"))
            if len(data) % 4 == 1:  # one dangling character cannot encode anything
                data = data[:-1]
            return binascii.a2b_base64(data + b"=" * (-len(data) % 4))
        return binascii.a2b_qp(text.encode("utf-8"), header=True)
    except (binascii.Error, ValueError):
        return text.encode("utf-8")


def decode_words(value: str) -> str:
    """Unfold a header value and decode its RFC 2047 encoded words; never raises."""
    value = unescape_8bit(_LINE_BREAKS.sub("", value))
    if "=?" not in value:
        return _clean(value)
    out: list[str] = []
    pending, pending_charset, position = b"", "", 0
    for match in _ENCODED_WORD.finditer(value):
        between = value[position : match.start()]
        # Whitespace between adjacent encoded words is not part of the text (RFC 2047 6.2).
        if between and not (between.isspace() and position):
            out.append(decode_text(pending, pending_charset) if pending else "")
            out.append(between)
            pending = b""
        charset = match.group(1).split("*")[0].lower()
        data = _word_bytes(match.group(2), match.group(3))
        # Words in one charset are joined before decoding: encoders split multi-byte characters.
        if pending and charset != pending_charset:
            out.append(decode_text(pending, pending_charset))
            pending = b""
        pending, pending_charset, position = pending + data, charset, match.end()
    out.append(decode_text(pending, pending_charset) if pending else "")
    out.append(value[position:])
    return _clean("".join(out))


def _split_list(value: str) -> list[str]:
    """Split an address list on top-level commas, dropping group names ("team: a, b;")."""
    items: list[str] = []
    current: list[str] = []
    for piece in _ADDRESS_TOKEN.findall(value):
        if piece in (",", ";"):
            items.append("".join(current))
            current = []
        elif piece == ":":
            current = []  # what came before is a group's display name, not an address
        else:
            current.append(piece)
    items.append("".join(current))
    return [item.strip() for item in items if item.strip()]


def _addr_spec(text: str) -> str:
    text = text.strip().removeprefix("mailto:")
    local, at, domain = text.rpartition("@")
    if at and _LOCAL.fullmatch(local) and _DOMAIN.fullmatch(domain):
        return f"{local}@{domain.lower()}"
    return ""


def _display_name(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = re.sub(r"\\(.)", r"\1", text[1:-1])
    return " ".join(decode_words(text).split())


def _parse_one(item: str) -> Address:
    angle = item.rfind("<")
    close = item.find(">", angle)
    if angle >= 0 and close > angle:
        # Obsolete syntax allows comments and folding whitespace inside the angle brackets.
        inner = _COMMENT_OR_SPACE.sub("", item[angle + 1 : close])
        name, email = _display_name(item[:angle]), _addr_spec(inner)
    else:
        name, email = "", _addr_spec(item)
        comment = _TRAILING_COMMENT.match(item)
        if not email and comment:  # old style: "ann@example.com (Ann Example)"
            name, email = _display_name(comment.group(2)), _addr_spec(comment.group(1))
        if not email:
            name = _display_name(item)
    # A display name that merely repeats the address carries nothing (mail-parser does the same).
    if email and name.strip("'\" ").lower() == email.lower():
        name = ""
    return Address(name=name, email=email)


def parse_addresses(value: str) -> list[Address]:
    """Parse an address-list header value (raw, RFC 2047 words still encoded); never raises."""
    try:
        items = _split_list(unescape_8bit(_LINE_BREAKS.sub("", value)))
        merged: list[str] = []
        for item in items:
            # "Doe, John <john@example.com>": an unquoted comma split one display name in two.
            if merged and "@" not in merged[-1] and "<" not in merged[-1] and "<" in item:
                merged[-1] = f"{merged[-1]}, {item}"
            else:
                merged.append(item)
        return [_parse_one(item) for item in merged]
    except Exception:  # noqa: BLE001
        return []


def first_address(value: str) -> Address | None:
    """The first mailbox of an address header, or None when there is none."""
    return next(iter(parse_addresses(value)), None)


def parse_msg_ids(value: str, bare: bool = False) -> list[str]:
    """Msg-ids without <> (whitespace inside removed); `bare` accepts one unbracketed id."""
    value = decode_words(value)
    ids = ["".join(found.split()) for found in _ANGLED.findall(value)]
    ids = [i for i in ids if i]
    if not ids:
        tokens = value.split()
        ids = tokens[:1] if bare else [t for t in tokens if "@" in t]
    return ids


def parse_date(value: str) -> datetime | None:
    """RFC 5322 date as an aware datetime (UTC when the zone is missing or -0000), else None."""
    if not value.strip():
        return None
    try:
        parsed = parsedate_to_datetime(decode_words(value))
    except Exception:  # noqa: BLE001 - ValueError/TypeError/OverflowError on invalid dates
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
