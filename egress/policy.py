"""Which outbound targets are safe: URL scheme rules and the address classes never contacted.

Pure (no I/O). A target is refused when its scheme is not https (http only if the operator
allows it) or any of its addresses is loopback, private, link-local, multicast, unspecified,
carrier-grade NAT, a cloud metadata address or otherwise not globally routable, unless the
address lies inside one of the operator's `webhook_allow_networks`.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass

import httpx

from settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Hosts that are loopback by definition (RFC 6761), whatever a resolver says.
LOOPBACK_NAMES = ("localhost", "localhost.")
# Legacy IPv4 spellings (`127.1`, `0x7f000001`, `017700000001`) that resolvers accept as IPs.
_LEGACY_IPV4 = re.compile(r"(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}", re.IGNORECASE)


class UnsafeTarget(Exception):
    """The URL or the address it resolves to must not be contacted; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Target:
    url: httpx.URL
    host: str  # ASCII (IDNA) host name or IP literal, no brackets
    ip: IPAddress | None  # set when the URL names an address instead of a host

    @property
    def host_header(self) -> str:
        return self.url.netloc.decode("ascii")


def allowed_networks(settings: Settings) -> list[Network]:
    return parse_networks(settings.webhook_allow_networks, "webhook_allow_networks")


def parse_networks(text: str, setting: str) -> list[Network]:
    """An operator's comma-separated CIDR allow list (webhooks, BYO SMTP relays)."""
    nets = []
    for item in text.split(","):
        if item.strip():
            try:
                nets.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError as exc:
                raise ValueError(f"{setting}: {item.strip()!r} is not a CIDR") from exc
    return nets


def refusal(ip: IPAddress, allow: list[Network]) -> str | None:
    """Why `ip` must not be contacted, or None when it may be."""
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv4 address in IPv6 clothing reaches the IPv4 host: judge that host.
        embedded = ip.ipv4_mapped or (
            ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in NAT64 else None
        )
        if embedded is not None:
            return refusal(embedded, allow)
    if any(ip.version == net.version and ip in net for net in allow):
        return None
    checks = (
        (ip in METADATA, "cloud metadata address"),
        (ip.is_unspecified, "unspecified address"),
        (ip.is_loopback, "loopback address"),
        (ip.is_link_local, "link-local address"),
        (ip.is_multicast, "multicast address"),
        (ip in CGNAT, "carrier-grade NAT address"),
        (ip.is_private, "private address"),
        (not ip.is_global, "non-public address"),
    )
    for refused, reason in checks:
        if refused:
            return f"{ip} is a {reason}"
    return None


def parse_target(url: str, settings: Settings) -> Target:
    """Scheme, host and (for address literals) address checks that need no DNS."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise UnsafeTarget(f"not a valid URL: {exc}") from exc
    schemes = ("https", "http") if settings.webhook_allow_http else ("https",)
    if parsed.scheme not in schemes:
        raise UnsafeTarget(f"scheme {parsed.scheme or '(none)'!r} is not allowed; use "
                           + " or ".join(schemes))  # fmt: skip
    host = parsed.raw_host.decode("ascii").strip("[]").lower()
    if not host:
        raise UnsafeTarget("the URL has no host")
    ip = _as_ip(host)
    target = Target(url=parsed, host=host, ip=ip)
    if host in LOOPBACK_NAMES:
        check_addresses(target, [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")],
                        allowed_networks(settings))  # fmt: skip
    elif ip is not None:
        check_addresses(target, [ip], allowed_networks(settings))
    return target


def check_url(url: str, settings: Settings) -> None:
    """Validate a webhook URL at create time (no DNS): raises UnsafeTarget with the reason.

    Host names are judged again on every request, by the addresses they resolve to then.
    """
    parse_target(url, settings)


def check_addresses(
    target: Target, addresses: list[IPAddress], allow: list[Network]
) -> list[IPAddress]:
    """The addresses that may be connected to, in order; UnsafeTarget if any of the host's
    addresses is refused (a host that publishes one private address is not trusted at all)."""
    if not addresses:
        raise UnsafeTarget(f"{target.host} has no addresses")
    for ip in addresses:
        reason = refusal(ip, allow)
        if reason is not None:
            shown = "" if target.ip is not None else f"{target.host} resolves to "
            raise UnsafeTarget(shown + reason)
    return addresses


def _as_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if _LEGACY_IPV4.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None
