"""Organizational domains (RFC 7489 §3.2) from the Public Suffix List bundled with
`publicsuffixlist`; the list is read from the installed package, never downloaded.
"""

from __future__ import annotations

import functools

from publicsuffixlist import PublicSuffixList


@functools.cache
def _suffix_list() -> PublicSuffixList:
    # Loaded on first use, not at import, so importing mailauth stays cheap.
    return PublicSuffixList()


def organizational_domain(domain: str) -> str:
    """The registrable domain of `domain`; a public suffix is its own organizational domain."""
    domain = domain.lower().rstrip(".")
    return _suffix_list().privatesuffix(domain) or domain


def relaxed_aligned(first: str, second: str) -> bool:
    """RFC 7489 §3.1 relaxed alignment: the two domains share an organizational domain."""
    return organizational_domain(first) == organizational_domain(second)
