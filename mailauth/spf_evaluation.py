"""SPF check_host() (RFC 7208 §4–§6) over our async resolver; the only SPF code that does I/O.

It returns a result word and never raises: syntax and limit violations are "permerror", DNS
timeouts and SERVFAIL are "temperror". It never evaluates exp= (we do not reject with SPF text).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from mailauth.resolver import Resolver, TempError
from mailauth.spf_macros import MacroContext, expand_domain_spec
from mailauth.spf_terms import Directive, SpfSyntaxError, is_spf_record, parse_record

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_QUALIFIER_RESULTS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
# RFC 7208 §4.6.4 processing limits.
MAX_DNS_MECHANISMS = 10
MAX_VOID_LOOKUPS = 2
MAX_ADDRESS_LOOKUPS = 10


class _PermError(Exception):
    pass


@dataclass(frozen=True)
class SpfResult:
    result: str  # pass | fail | softfail | neutral | none | temperror | permerror
    domain: str | None  # the domain whose policy was checked (MAIL FROM, else HELO)


@dataclass
class _Evaluation:
    """State shared by one check_host() call and every include/redirect it recurses into."""

    resolver: Resolver
    ip: IPAddress
    sender: str
    local_part: str
    sender_domain: str
    helo: str
    dns_mechanisms: int = 0
    void_lookups: int = 0

    def macro_context(self, domain: str) -> MacroContext:
        return MacroContext(
            self.sender, self.local_part, self.sender_domain, domain, self.ip, self.helo
        )

    def count_dns_mechanism(self) -> None:
        self.dns_mechanisms += 1
        if self.dns_mechanisms > MAX_DNS_MECHANISMS:
            raise _PermError("more than 10 DNS-querying terms")

    def count_void(self, answers: Sequence[object]) -> None:
        if not answers:
            self.void_lookups += 1
            if self.void_lookups > MAX_VOID_LOOKUPS:
                raise _PermError("more than 2 void lookups")


async def check_spf(
    client_ip: str, mail_from: str | None, helo: str | None, resolver: Resolver
) -> SpfResult:
    """SPF for the MAIL FROM identity, or postmaster@HELO when MAIL FROM is null (RFC 7208 §2.4)."""
    identity = spf_identity(mail_from, helo)
    if identity is None:
        return SpfResult("none", None)
    local_part, domain = identity
    try:
        ip = ipaddress.ip_address(client_ip.strip().strip("[]"))
    except ValueError:
        return SpfResult("permerror", domain)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # RFC 7208 §5: an IPv4-mapped client is checked as IPv4
    evaluation = _Evaluation(
        resolver, ip, f"{local_part}@{domain}", local_part, domain, (helo or "").strip().lower()
    )
    try:
        return SpfResult(await _check_host(evaluation, domain), domain)
    except TempError:
        return SpfResult("temperror", domain)
    except _PermError:
        return SpfResult("permerror", domain)


def spf_identity(mail_from: str | None, helo: str | None) -> tuple[str, str] | None:
    """(local-part, domain) SPF checks: MAIL FROM's, else postmaster@HELO; None if neither."""
    address = (mail_from or "").strip().removeprefix("<").removesuffix(">").strip()
    if address:
        local_part, at, domain = address.rpartition("@")
        if not at:
            local_part, domain = "", address
    else:
        local_part, domain = "", (helo or "").strip()
    domain = domain.lower().rstrip(".")
    # RFC 7208 §4.3: a sender without a local-part is checked as "postmaster".
    return (local_part or "postmaster", domain) if domain else None


def _valid_domain(domain: str) -> bool:
    # RFC 7208 §4.3: malformed or single-label domains give "none" without a lookup.
    labels = domain.split(".")
    return len(labels) >= 2 and len(domain) <= 253 and all(0 < len(label) <= 63 for label in labels)


async def _check_host(evaluation: _Evaluation, domain: str) -> str:
    if not _valid_domain(domain):
        return "none"
    records = [txt for txt in await evaluation.resolver.txt(domain) if is_spf_record(txt)]
    if not records:
        return "none"
    if len(records) > 1:
        raise _PermError(f"{domain} publishes {len(records)} SPF records")
    try:
        record = parse_record(records[0])
    except SpfSyntaxError as exc:
        raise _PermError(str(exc)) from exc
    for directive in record.directives:
        if await _matches(evaluation, directive, domain):
            return _QUALIFIER_RESULTS[directive.qualifier]
    if record.redirect is None:
        return "neutral"
    evaluation.count_dns_mechanism()
    target = expand_domain_spec(record.redirect, evaluation.macro_context(domain))
    result = await _check_host(evaluation, target)
    if result == "none":
        raise _PermError(f"redirect target {target} has no SPF record")
    return result


async def _matches(evaluation: _Evaluation, directive: Directive, domain: str) -> bool:
    mechanism = directive.mechanism
    if mechanism == "all":
        return True
    if directive.network is not None:
        return evaluation.ip.version == directive.network.version and (
            evaluation.ip in directive.network
        )
    evaluation.count_dns_mechanism()
    target = domain
    if directive.domain_spec is not None:
        target = expand_domain_spec(directive.domain_spec, evaluation.macro_context(domain))
    if mechanism == "include":
        result = await _check_host(evaluation, target)
        if result == "none":
            raise _PermError(f"include target {target} has no SPF record")
        return result == "pass"
    if mechanism == "exists":
        # exists always queries A, whatever the client's address family (RFC 7208 §5.7).
        addresses = await evaluation.resolver.a(target)
        evaluation.count_void(addresses)
        return bool(addresses)
    if mechanism == "a":
        addresses = await _addresses(evaluation, target)
        evaluation.count_void(addresses)
        return _in_any(evaluation, addresses, directive)
    if mechanism == "mx":
        return await _matches_mx(evaluation, target, directive)
    return await _matches_ptr(evaluation, target)


async def _matches_mx(evaluation: _Evaluation, target: str, directive: Directive) -> bool:
    exchanges = [mx.exchange for mx in await evaluation.resolver.mx(target) if mx.exchange]
    evaluation.count_void(exchanges)
    if len(exchanges) > MAX_ADDRESS_LOOKUPS:
        raise _PermError(f"{target} has more than 10 MX records")
    for exchange in exchanges:
        if _in_any(evaluation, await _addresses(evaluation, exchange), directive):
            return True
    return False


async def _matches_ptr(evaluation: _Evaluation, target: str) -> bool:
    # RFC 7208 §5.5: DNS errors here make the mechanism not match rather than temperror.
    try:
        names = await evaluation.resolver.ptr(str(evaluation.ip))
    except TempError:
        return False
    evaluation.count_void(names)
    for name in names[:MAX_ADDRESS_LOOKUPS]:
        try:
            addresses = await _addresses(evaluation, name)
        except TempError:
            continue
        validated = str(evaluation.ip) in {str(ipaddress.ip_address(a)) for a in addresses}
        if validated and (name == target or name.endswith("." + target)):
            return True
    return False


async def _addresses(evaluation: _Evaluation, name: str) -> list[str]:
    if evaluation.ip.version == 4:
        return await evaluation.resolver.a(name)
    return await evaluation.resolver.aaaa(name)


def _in_any(evaluation: _Evaluation, addresses: list[str], directive: Directive) -> bool:
    prefix = directive.cidr4 if evaluation.ip.version == 4 else directive.cidr6
    for address in addresses:
        try:
            network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
        except ValueError:
            continue
        if evaluation.ip in network:
            return True
    return False
