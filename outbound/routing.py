"""Which way each remote recipient goes: the organization's default SMTP config, else the
platform transport (`capture`, `relay` to POSTFLOW_RELAY_URL, or `direct` to the recipient
domain's MX found through the mailauth resolver, A record fallback per RFC 5321 §5.1)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from crypto.sealing import unseal
from mailauth.resolver import Resolver, TempError
from outbound.transport import SmtpTarget, parse_relay_url
from settings import Settings
from store import smtp_configs
from store.models import SmtpConfig

SEAL_PURPOSE = "smtp-password"  # noqa: S105 (the sealing purpose label, not a secret)
MAX_MX_HOSTS = 5


@dataclass
class Route:
    kind: str  # capture | relay | direct
    rcpts: list[str]
    # Hosts to try in order (several only for direct: the MXes by preference).
    targets: list[SmtpTarget] = field(default_factory=list)
    error: str | None = None  # no way to reach them now (temporary)
    # An organization's own relay: its host is checked and pinned on every connection
    # (outbound/smtp_egress.py); the operator's relay and MX routing are not.
    tenant_chosen: bool = False


def target_of(cfg: SmtpConfig, master_key: bytes) -> SmtpTarget:
    password = unseal(master_key, cfg.password_sealed, SEAL_PURPOSE) if cfg.password_sealed else None
    return SmtpTarget(host=cfg.host, port=cfg.port, security=cfg.security,  # type: ignore[arg-type]
                      username=cfg.username, password=password)  # fmt: skip


async def plan_routes(session: AsyncSession, settings: Settings, resolver: Resolver,
                      org_id: str, rcpts: list[str]) -> list[Route]:  # fmt: skip
    if not rcpts:
        return []
    cfg = await smtp_configs.default_for(session, org_id)
    if cfg is not None:
        return [Route("relay", rcpts, [target_of(cfg, settings.master_key_bytes())], tenant_chosen=True)]
    if settings.outbound_transport == "capture":
        return [Route("capture", rcpts)]
    if settings.outbound_transport == "relay":
        if settings.relay_url is None:
            return [Route("relay", rcpts, error="POSTFLOW_RELAY_URL is not set")]
        return [Route("relay", rcpts, [parse_relay_url(settings.relay_url.get_secret_value())])]
    by_domain: dict[str, list[str]] = defaultdict(list)
    for r in rcpts:
        by_domain[r.rpartition("@")[2].lower()].append(r)
    return [await _direct(resolver, settings, d, group) for d, group in by_domain.items()]


async def _direct(resolver: Resolver, settings: Settings, domain: str,
                  rcpts: list[str]) -> Route:  # fmt: skip
    try:
        hosts = [mx.exchange.rstrip(".") for mx in await resolver.mx(domain)] or [domain]
        if hosts == [""]:  # a null MX (RFC 7505): the domain accepts no mail
            return Route("direct", rcpts, error="null MX: the domain accepts no mail")
        targets = []
        for host in hosts[:MAX_MX_HOSTS]:
            for ip in await resolver.a(host):
                # Opportunistic STARTTLS without certificate checks, as MTAs do between MXes.
                targets.append(SmtpTarget(host=ip, port=settings.direct_smtp_port,
                                          security="starttls", verify_certs=False))  # fmt: skip
                break
    except TempError as exc:
        return Route("direct", rcpts, error=f"DNS lookup failed: {exc}")
    if not targets:
        return Route("direct", rcpts, error=f"no MX or address for {domain}")
    return Route("direct", rcpts, targets)
