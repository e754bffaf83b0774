"""The process's one DNS resolver for mail authentication: short timeouts and a bounded TTL cache.

It owns every DNS query SPF, DKIM and DMARC make. It is built from values the caller takes from
settings (never from the environment), and it never raises for a name that simply does not exist:
NXDOMAIN and empty answers are empty lists, while timeouts and SERVFAIL are `TempError`.
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import NamedTuple

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdata
import dns.rdatatype
import dns.resolver
import dns.reversename
from dns.rdtypes.ANY.MX import MX
from dns.rdtypes.ANY.PTR import PTR
from dns.rdtypes.ANY.TXT import TXT


class TempError(Exception):
    """A lookup that may succeed later (timeout, SERVFAIL, no reachable server)."""


class MxRecord(NamedTuple):
    preference: int
    exchange: str


# One cached answer: the values in wire order, as plain strings (MX as "pref exchange").
_Values = tuple[str, ...]


class Resolver:
    """Async DNS lookups returning plain strings; one instance is shared by the whole process."""

    def __init__(
        self,
        nameservers: list[str] | None,
        port: int = 53,
        timeout: float = 1.0,
        lifetime: float = 2.0,
        *,
        cache_size: int = 4096,
        max_ttl: float = 3600.0,
        negative_ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Build the resolver; it is not thread-safe, so use it from one event loop.

        Args:
            nameservers: IP addresses to query; None uses the system configuration.
            timeout: seconds per attempt; lifetime: seconds per lookup, retries included.
            negative_ttl: how long NXDOMAIN and empty answers stay cached.
        """
        if nameservers:
            self._dns = dns.asyncresolver.Resolver(configure=False)
            # The port must be set before the nameservers: dnspython binds it when they are set.
            self._dns.port = port
            self._dns.nameservers = list(nameservers)
        else:
            self._dns = dns.asyncresolver.Resolver()
        self._dns.timeout = timeout
        self._dns.lifetime = lifetime
        # EDNS0 keeps 2048-bit DKIM keys in one UDP answer instead of a TCP retry.
        self._dns.use_edns(0, 0, 1232)
        self._cache: OrderedDict[tuple[int, str], tuple[float, _Values]] = OrderedDict()
        self._cache_size = cache_size
        self._max_ttl = max_ttl
        self._negative_ttl = negative_ttl
        self._clock = clock

    async def txt(self, name: str) -> list[str]:
        """TXT records of `name`, each record's strings concatenated (RFC 7208 §3.3)."""
        return list(await self._lookup(name, dns.rdatatype.TXT))

    async def a(self, name: str) -> list[str]:
        return list(await self._lookup(name, dns.rdatatype.A))

    async def aaaa(self, name: str) -> list[str]:
        return list(await self._lookup(name, dns.rdatatype.AAAA))

    async def mx(self, name: str) -> list[MxRecord]:
        """MX records of `name`, lowest preference first."""
        records = []
        for value in await self._lookup(name, dns.rdatatype.MX):
            preference, _, exchange = value.partition(" ")
            records.append(MxRecord(int(preference), exchange))
        return sorted(records, key=lambda r: r.preference)

    async def ptr(self, ip: str) -> list[str]:
        """Names the reverse zone gives for the address `ip` (not forward-confirmed)."""
        try:
            reverse = dns.reversename.from_address(str(ipaddress.ip_address(ip)))
        except ValueError:
            return []
        return list(await self._lookup(reverse.to_text(omit_final_dot=True), dns.rdatatype.PTR))

    def clear_cache(self) -> None:
        self._cache.clear()

    async def _lookup(self, name: str, rdtype: dns.rdatatype.RdataType) -> _Values:
        key = (int(rdtype), name.lower().rstrip("."))
        now = self._clock()
        cached = self._cache.get(key)
        if cached is not None:
            if cached[0] > now:
                self._cache.move_to_end(key)
                return cached[1]
            del self._cache[key]
        values, ttl = await self._query(key[1], rdtype)
        self._store(key, values, ttl)
        return values

    async def _query(self, name: str, rdtype: dns.rdatatype.RdataType) -> tuple[_Values, float]:
        try:
            qname = dns.name.from_text(name)
        except (dns.exception.DNSException, UnicodeError, ValueError):
            # A name that cannot be encoded cannot exist in DNS; SPF/DMARC treat that as "none".
            return (), self._negative_ttl
        try:
            answer = await self._dns.resolve(qname, rdtype, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.YXDOMAIN):
            return (), self._negative_ttl
        except dns.exception.Timeout as exc:
            raise TempError(f"DNS timeout for {name} {rdtype.name}") from exc
        except (dns.exception.DNSException, OSError) as exc:
            # NoNameservers (every server SERVFAILed or refused) and transport errors.
            raise TempError(f"DNS error for {name} {rdtype.name}: {exc}") from exc
        values = tuple(_rdata_text(rdata) for rdata in answer)
        return values, max(0.0, answer.expiration - time.time())

    def _store(self, key: tuple[int, str], values: _Values, ttl: float) -> None:
        ttl = min(ttl, self._max_ttl)
        if ttl <= 0 or self._cache_size <= 0:
            return  # TTL 0 means "do not cache" (RFC 1035 §3.2.1).
        self._cache[key] = (self._clock() + ttl, values)
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


def _rdata_text(rdata: dns.rdata.Rdata) -> str:
    if isinstance(rdata, TXT):
        # Non-ASCII bytes cannot be valid SPF/DKIM/DMARC syntax; keep them visible, not fatal.
        return b"".join(rdata.strings).decode("utf-8", "replace")
    if isinstance(rdata, MX):
        return f"{rdata.preference} {rdata.exchange.to_text(omit_final_dot=True).lower()}"
    if isinstance(rdata, PTR):
        return rdata.target.to_text(omit_final_dot=True).lower()
    return rdata.to_text()
