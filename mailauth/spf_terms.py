"""Parsing one SPF record (RFC 7208 §4.6, §5, §6) into directives and modifiers. Pure: no I/O.

Any syntax error anywhere in the record is an `SpfSyntaxError`, which check_host() turns into
"permerror" before evaluating a single mechanism, as RFC 7208 §4.6 requires.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

from mailauth.spf_macros import MacroSyntaxError, check_domain_spec, check_macro_string

MECHANISMS = frozenset({"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"})
_MODIFIER = re.compile(r"(?P<name>[A-Za-z][A-Za-z0-9\-_.]*)=(?P<value>.*)\Z", re.DOTALL)
_MECHANISM = re.compile(r"(?P<qualifier>[+\-~?]?)(?P<name>[A-Za-z][A-Za-z0-9]*)(?P<rest>.*)\Z")
_DUAL_CIDR = re.compile(r"(?:/(?P<v4>[0-9]+))?(?://(?P<v6>[0-9]+))?\Z")
_VERSION = re.compile(r"v=spf1(?: |\Z)", re.IGNORECASE)


class SpfSyntaxError(ValueError):
    """The record is not valid RFC 7208 syntax."""


@dataclass(frozen=True)
class Directive:
    qualifier: str  # one of + - ~ ?
    mechanism: str  # lower-case mechanism name
    domain_spec: str | None = None  # include/a/mx/ptr/exists target, unexpanded
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None  # ip4/ip6
    cidr4: int = 32
    cidr6: int = 128


@dataclass(frozen=True)
class SpfRecord:
    directives: tuple[Directive, ...]
    redirect: str | None


def is_spf_record(txt: str) -> bool:
    """True for the TXT strings RFC 7208 §4.5 selects: "v=spf1" then a space or the end."""
    return _VERSION.match(txt) is not None


def parse_record(txt: str) -> SpfRecord:
    """Parse a record already selected by `is_spf_record`."""
    directives: list[Directive] = []
    redirect: str | None = None
    seen_exp = False
    for term in txt[len("v=spf1") :].split(" "):
        if not term:
            continue  # runs of spaces separate terms
        modifier = _MODIFIER.match(term)
        if modifier:
            name, value = modifier.group("name").lower(), modifier.group("value")
            if name == "redirect":
                if redirect is not None:
                    raise SpfSyntaxError("redirect= appears twice")
                _check(check_domain_spec, value)
                redirect = value
            elif name == "exp":
                if seen_exp:
                    raise SpfSyntaxError("exp= appears twice")
                seen_exp = True
                _check(check_domain_spec, value)
            else:
                _check(check_macro_string, value)  # unknown modifiers are ignored if well-formed
            continue
        directives.append(_parse_directive(term))
    return SpfRecord(tuple(directives), redirect)


def _parse_directive(term: str) -> Directive:
    match = _MECHANISM.match(term)
    if match is None or match.group("name").lower() not in MECHANISMS:
        raise SpfSyntaxError(f"unknown term {term!r}")
    qualifier = match.group("qualifier") or "+"
    name = match.group("name").lower()
    rest = match.group("rest")
    if name == "all":
        if rest:
            raise SpfSyntaxError(f"'all' takes no argument: {term!r}")
        return Directive(qualifier, name)
    if name in ("ip4", "ip6"):
        return Directive(qualifier, name, network=_parse_network(name, rest))
    if name in ("include", "exists"):
        if not rest.startswith(":"):
            raise SpfSyntaxError(f"{name} needs a domain: {term!r}")
        _check(check_domain_spec, rest[1:])
        return Directive(qualifier, name, domain_spec=rest[1:])
    cidr4, cidr6 = 32, 128
    if name in ("a", "mx"):
        cidr = _DUAL_CIDR.search(rest)
        assert cidr is not None  # every group is optional, so the pattern always matches
        cidr4 = _cidr(cidr.group("v4"), 32, 32)
        cidr6 = _cidr(cidr.group("v6"), 128, 128)
        rest = rest[: cidr.start()]
    if not rest:
        return Directive(qualifier, name, cidr4=cidr4, cidr6=cidr6)
    if not rest.startswith(":"):
        raise SpfSyntaxError(f"bad argument in {term!r}")
    _check(check_domain_spec, rest[1:])
    return Directive(qualifier, name, domain_spec=rest[1:], cidr4=cidr4, cidr6=cidr6)


def _parse_network(name: str, rest: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if not rest.startswith(":"):
        raise SpfSyntaxError(f"{name} needs an address")
    address, slash, length = rest[1:].partition("/")
    maximum = 32 if name == "ip4" else 128
    prefix = _cidr(length, maximum, maximum) if slash else maximum
    try:
        parsed = ipaddress.IPv4Address(address) if name == "ip4" else ipaddress.IPv6Address(address)
    except ValueError as exc:
        raise SpfSyntaxError(f"bad {name} address {address!r}") from exc
    # strict=False: "ip4:192.0.2.1/24" is common and means the /24 around that address.
    return ipaddress.ip_network(f"{parsed}/{prefix}", strict=False)


def _cidr(text: str | None, maximum: int, default: int) -> int:
    if text is None:
        return default
    # RFC 7208 §12: no leading zeros, and within the address size.
    if not text.isdigit() or (len(text) > 1 and text[0] == "0") or int(text) > maximum:
        raise SpfSyntaxError(f"bad CIDR length /{text}")
    return int(text)


def _check(checker: Callable[[str], None], value: str) -> None:
    try:
        checker(value)
    except MacroSyntaxError as exc:
        raise SpfSyntaxError(str(exc)) from exc
