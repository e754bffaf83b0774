"""DMARC (RFC 7489): policy record discovery through our resolver, record parsing, and the
identifier-alignment verdict. It decides the DMARC result word only, never a disposition
(quarantine/reject is the caller's choice from `policy`), and it does not send reports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailauth.organizational_domains import organizational_domain, relaxed_aligned
from mailauth.resolver import Resolver

_POLICIES = frozenset({"none", "quarantine", "reject"})
# RFC 7489 §6.4: "v" first, exact value DMARC1; tag names are case-insensitive.
_VERSION = re.compile(r"\s*v\s*=\s*DMARC1\s*(?:;|\Z)", re.IGNORECASE)


class DmarcRecordError(ValueError):
    """A published record that is not valid DMARC syntax (a permerror)."""


@dataclass(frozen=True)
class DmarcRecord:
    policy: str  # p=
    subdomain_policy: str | None  # sp=
    adkim: str  # "r" (relaxed) or "s" (strict)
    aspf: str


@dataclass(frozen=True)
class DiscoveredPolicy:
    """The record that governs a From domain, and the policy it applies to that domain."""

    record: DmarcRecord
    policy: str  # p=, or sp= when the record came from the organizational domain
    record_domain: str


def parse_record(txt: str) -> DmarcRecord:
    """Parse one record that `is_dmarc_record` selected; raise DmarcRecordError if invalid."""
    tags: dict[str, str] = {}
    for part in txt.split(";"):
        if not part.strip():
            continue
        name, equals, value = part.partition("=")
        if not equals:
            raise DmarcRecordError(f"tag without '=': {part.strip()!r}")
        # A repeated tag keeps its first value; unknown tags are ignored (RFC 7489 §6.3).
        tags.setdefault(name.strip().lower(), value.strip())
    policy = tags.get("p", "").lower()
    if policy not in _POLICIES:
        # RFC 7489 §6.6.3: without a valid p=, a record naming a report address counts as
        # p=none; otherwise the record is unusable.
        if not tags.get("rua", "").strip():
            raise DmarcRecordError(f"missing or invalid p= ({tags.get('p')!r})")
        policy = "none"
    subdomain_policy = tags.get("sp", "").lower() or None
    if subdomain_policy is not None and subdomain_policy not in _POLICIES:
        raise DmarcRecordError(f"invalid sp= {subdomain_policy!r}")
    adkim, aspf = tags.get("adkim", "r").lower(), tags.get("aspf", "r").lower()
    if adkim not in ("r", "s") or aspf not in ("r", "s"):
        raise DmarcRecordError(f"invalid adkim={adkim!r} / aspf={aspf!r}")
    return DmarcRecord(policy, subdomain_policy, adkim, aspf)


def is_dmarc_record(txt: str) -> bool:
    return _VERSION.match(txt) is not None


async def discover_policy(from_domain: str, resolver: Resolver) -> DiscoveredPolicy | None:
    """RFC 7489 §6.6.3: `_dmarc.<From domain>`, then the organizational domain's record.

    None means no DMARC applies (no record, or several). Raises TempError and DmarcRecordError.
    """
    found = await _fetch(from_domain, resolver)
    if found is not None:
        record = parse_record(found) if found else None
        return DiscoveredPolicy(record, record.policy, from_domain) if record else None
    organizational = organizational_domain(from_domain)
    if organizational == from_domain:
        return None
    found = await _fetch(organizational, resolver)
    if not found:
        return None
    record = parse_record(found)
    return DiscoveredPolicy(record, record.subdomain_policy or record.policy, organizational)


async def _fetch(domain: str, resolver: Resolver) -> str | None:
    """The one DMARC record at `domain`; "" if several (no policy); None if there is none."""
    records = [txt for txt in await resolver.txt(f"_dmarc.{domain}") if is_dmarc_record(txt)]
    if not records:
        return None
    return records[0] if len(records) == 1 else ""


def evaluate(
    discovered: DiscoveredPolicy,
    from_domain: str,
    *,
    spf_result: str,
    spf_domain: str | None,
    dkim_results: list[tuple[str, str]],
) -> str:
    """pass if an aligned SPF or DKIM identifier passed; temperror if one might have; else fail.

    Args:
        dkim_results: (d= domain, result) for every signature on the message.
    """
    record = discovered.record

    def aligned(domain: str | None, mode: str) -> bool:
        if not domain:
            return False
        domain = domain.lower().rstrip(".")
        return domain == from_domain if mode == "s" else relaxed_aligned(domain, from_domain)

    spf_aligned = aligned(spf_domain, record.aspf)
    dkim_aligned = [result for domain, result in dkim_results if aligned(domain, record.adkim)]
    if (spf_aligned and spf_result == "pass") or "pass" in dkim_aligned:
        return "pass"
    if (spf_aligned and spf_result == "temperror") or "temperror" in dkim_aligned:
        return "temperror"
    return "fail"
