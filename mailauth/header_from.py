"""The RFC5322.From domain that DMARC protects (RFC 7489 §6.6.1), read from raw headers. Pure.

Only the header section is parsed, and any input (garbage, no headers, 8-bit bytes) gives a
status instead of an exception.
"""

from __future__ import annotations

import email.parser
import email.policy
import email.utils
from dataclasses import dataclass


@dataclass(frozen=True)
class AuthorDomain:
    status: str  # "ok" | "missing" (no From field) | "invalid" (several From fields, no domain)
    domain: str | None = None


def author_domain(raw: bytes) -> AuthorDomain:
    """The single author domain of `raw`, or why there is none."""
    try:
        headers = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(
            _header_section(raw), headersonly=True
        )
        # raw_items keeps 8-bit (SMTPUTF8) values as surrogate-escaped text, not Header objects.
        fields = [value for name, value in headers.raw_items() if name.lower() == "from"]
    except Exception:  # the stdlib parser is lenient, but this must never raise
        return AuthorDomain("missing")
    if not fields:
        return AuthorDomain("missing")
    if len(fields) > 1:
        return AuthorDomain("invalid")
    try:
        addresses = email.utils.getaddresses([fields[0]])
    except Exception:
        return AuthorDomain("invalid")
    domains = {_domain(address) for _, address in addresses if address}
    # Several authors are fine only when they share one domain (RFC 7489 §6.6.1).
    if len(domains) != 1 or None in domains:
        return AuthorDomain("invalid")
    return AuthorDomain("ok", domains.pop())


def _domain(address: str) -> str | None:
    _, at, domain = address.rpartition("@")
    domain = domain.strip().rstrip(".").lower()
    if not at or not domain or domain.startswith("[") or any(c in domain for c in " \t<>@,;:"):
        return None
    try:
        # Internationalized domains (raw UTF-8 under SMTPUTF8) are compared as A-labels.
        unicode_domain = domain.encode("utf-8", "surrogateescape").decode("utf-8")
        ascii_domain = unicode_domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = ascii_domain.split(".")
    return ascii_domain if all(0 < len(label) <= 63 for label in labels) else None


def _header_section(raw: bytes) -> bytes:
    # The body can be megabytes; the parser needs only the lines before the first blank one.
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    return raw[: min(ends) + 2] if ends else raw
