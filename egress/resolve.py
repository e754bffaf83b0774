"""Resolving a target host to addresses, fresh on every request (no cache: a DNS rebinding
between two attempts is seen by the second one).

The resolver is the system's, or the `dns_servers` of the settings when the operator set
them (the same servers mail authentication uses). Callers may inject their own.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable

from egress.policy import IPAddress
from settings import Settings

Resolve = Callable[[str], Awaitable[list[IPAddress]]]


class ResolveError(Exception):
    """The host has no addresses, or the lookup failed (may work later)."""


def resolver_for(settings: Settings) -> Resolve:
    nameservers, port = settings.dns_server_list()
    if not nameservers:
        return _system
    import dns.asyncresolver

    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.port = port  # before the nameservers: dnspython binds it when they are set
    resolver.nameservers = list(nameservers)
    resolver.timeout = settings.dns_timeout_seconds
    resolver.lifetime = settings.dns_lifetime_seconds

    async def resolve(host: str) -> list[IPAddress]:
        import dns.exception
        import dns.resolver

        async def one(rdtype: str) -> list[IPAddress]:
            try:
                answer = await resolver.resolve(host, rdtype, search=False)
            except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
                return []
            except dns.exception.DNSException as exc:
                raise ResolveError(f"resolving {host}: {exc.__class__.__name__}") from exc
            return [ipaddress.ip_address(r.to_text()) for r in answer]

        v4, v6 = await asyncio.gather(one("A"), one("AAAA"))
        if not v4 and not v6:
            raise ResolveError(f"{host} does not resolve")
        return v4 + v6

    return resolve


async def _system(host: str) -> list[IPAddress]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ResolveError(f"resolving {host}: {exc.strerror}") from exc
    found: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in found:
            found.append(ip)
    return found
