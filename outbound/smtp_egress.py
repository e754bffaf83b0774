"""SSRF rules for organizations' own SMTP relays (`/v1/smtp-configs`): the webhooks' address
policy (egress/policy.py) applied to SMTP. A config's host may not be, nor resolve to, a
loopback, private, link-local, CGNAT, multicast or cloud-metadata address unless it lies in the
operator's `POSTFLOW_SMTP_ALLOW_NETWORKS`. Host names are resolved on every connection and the
connection goes to the address that was checked (`SmtpTarget.connect_ip`), so a DNS rebinding
between check and connect reaches nothing new; TLS still verifies the configured host name.

The operator's own `POSTFLOW_RELAY_URL` and the `direct` transport are not filtered here: the
former is an operator setting, the latter is MX routing, not a tenant-chosen host.
"""

from __future__ import annotations

import dataclasses
import ipaddress

from egress.policy import LOOPBACK_NAMES, IPAddress, Network, UnsafeTarget, parse_networks, refusal
from egress.resolve import Resolve, ResolveError, resolver_for
from outbound.transport import SmtpTarget
from settings import Settings

__all__ = ["ResolveError", "UnsafeTarget", "check_host", "pin"]


def _allow(settings: Settings) -> list[Network]:
    return parse_networks(settings.smtp_allow_networks, "smtp_allow_networks")


def _literal(host: str) -> list[IPAddress] | None:
    """The addresses a host means without DNS (an IP literal, `localhost`), else None."""
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]
    try:
        return [ipaddress.ip_address(host.split("%", 1)[0])]
    except ValueError:
        return None


def _check(host: str, addresses: list[IPAddress], allow: list[Network]) -> None:
    if not addresses:
        raise UnsafeTarget(f"{host} has no addresses")
    for ip in addresses:
        if (reason := refusal(ip, allow)) is not None:
            named = str(ip) == host.strip("[]")
            raise UnsafeTarget(reason if named else f"{host} resolves to {reason}")


def check_host(host: str, settings: Settings) -> None:
    """At create time, without DNS: refuse address literals and loopback names outside the
    allow list (host names are judged on every connection, by what they resolve to then)."""
    if (addresses := _literal(host)) is not None:
        _check(host, addresses, _allow(settings))


async def pin(target: SmtpTarget, settings: Settings, resolve: Resolve | None = None) -> SmtpTarget:
    """The target pinned to a checked address; UnsafeTarget (refused) or ResolveError."""
    addresses = _literal(target.host)
    if addresses is None:
        addresses = await (resolve or resolver_for(settings))(target.host)
    _check(target.host, addresses, _allow(settings))
    return dataclasses.replace(target, connect_ip=str(addresses[0]))
