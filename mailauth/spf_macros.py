"""SPF macro strings (RFC 7208 §7): syntax checking and expansion. Pure: no I/O.

The %{p} macro expands to "unknown" rather than doing the PTR lookups RFC 7208 §7.3 discourages,
and the explanation-only letters c, r and t are rejected, because we never evaluate exp=.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from dataclasses import dataclass

_TOKEN = re.compile(
    r"%\{(?P<letter>[a-zA-Z])(?P<digits>[0-9]*)(?P<reverse>[rR]?)(?P<delims>[.\-+,/_=]*)\}"
    r"|%(?P<escape>[%_-])"
    r"|(?P<literal>[\x21-\x24\x26-\x7e]+)"
)
_LETTERS = frozenset("slodiphv")
_EXPLANATION_ONLY = frozenset("crt")
# Domain labels after expansion never exceed this (RFC 7208 §7.3 truncation rule).
_MAX_DOMAIN = 253
_TOPLABEL = re.compile(r"[a-z0-9]*[a-z][a-z0-9]*|[a-z0-9]+-[a-z0-9-]*[a-z0-9]", re.IGNORECASE)


class MacroSyntaxError(ValueError):
    """A macro string that RFC 7208 §7.1 does not allow (a permerror for the record)."""


@dataclass(frozen=True)
class MacroContext:
    """The values macro letters stand for during one check_host() evaluation."""

    sender: str
    local_part: str
    sender_domain: str
    domain: str
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    helo: str


def check_macro_string(text: str, *, explanation: bool = False) -> None:
    """Raise MacroSyntaxError unless `text` is a valid macro-string."""
    for match in _tokens(text):
        letter = match.group("letter")
        if letter is None:
            continue
        lower = letter.lower()
        if lower not in _LETTERS and not (explanation and lower in _EXPLANATION_ONLY):
            raise MacroSyntaxError(f"macro letter {letter!r} not allowed here")
        digits = match.group("digits")
        if digits and int(digits) == 0:
            raise MacroSyntaxError("macro transformer must be nonzero")


def check_domain_spec(text: str) -> None:
    """Raise MacroSyntaxError unless `text` is a domain-spec (macro-string + domain-end)."""
    if not text:
        raise MacroSyntaxError("empty domain-spec")
    check_macro_string(text)
    # domain-end: a trailing macro-expand, or "." plus a top label that is not all digits.
    if text.endswith("}"):
        return
    _, dot, toplabel = text.removesuffix(".").rpartition(".")
    if not dot or not _TOPLABEL.fullmatch(toplabel):
        raise MacroSyntaxError(f"domain-spec {text!r} does not end in a top label")


def expand_domain_spec(text: str, context: MacroContext) -> str:
    """Expand `text` into a lower-case domain name, trimmed from the left to 253 octets."""
    expanded = expand(text, context).rstrip(".").lower()
    while len(expanded) > _MAX_DOMAIN and "." in expanded:
        expanded = expanded.split(".", 1)[1]
    return expanded


def expand(text: str, context: MacroContext) -> str:
    out = []
    for match in _tokens(text):
        if match.group("literal") is not None:
            out.append(match.group("literal"))
        elif match.group("escape") is not None:
            out.append({"%": "%", "_": " ", "-": "%20"}[match.group("escape")])
        else:
            out.append(_expand_letter(match, context))
    return "".join(out)


def _tokens(text: str) -> list[re.Match[str]]:
    matches = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise MacroSyntaxError(f"invalid macro syntax at {text[position:]!r}")
        matches.append(match)
        position = match.end()
    return matches


def _expand_letter(match: re.Match[str], context: MacroContext) -> str:
    letter = match.group("letter")
    value = _letter_value(letter.lower(), context)
    delimiters = match.group("delims") or "."
    parts = re.split("[" + re.escape(delimiters) + "]", value)
    if match.group("reverse"):
        parts.reverse()
    if match.group("digits"):
        parts = parts[-int(match.group("digits")) :]
    result = ".".join(parts)
    if letter.isupper():
        # Upper-case macro letters are URL-escaped (RFC 7208 §7.3).
        result = urllib.parse.quote(result, safe="-._~")
    return result


def _letter_value(letter: str, context: MacroContext) -> str:
    if letter == "s":
        return context.sender
    if letter == "l":
        return context.local_part
    if letter == "o":
        return context.sender_domain
    if letter == "d":
        return context.domain
    if letter == "i":
        if context.ip.version == 4:
            return str(context.ip)
        # IPv6 is written as dot-separated nibbles (RFC 7208 §7.3).
        return ".".join(context.ip.exploded.replace(":", ""))
    if letter == "v":
        return "in-addr" if context.ip.version == 4 else "ip6"
    if letter == "h":
        return context.helo or "unknown"
    return "unknown"  # "p": see the module docstring
