"""DKIM: a key per domain, generated on first read of `GET /v1/domains/{id}/dkim`, sealed at
rest; mail signed with it verifies with dkimpy against the record published in the local DNS
fixture; rotation switches the selector; other tenants' domains are not found."""

from __future__ import annotations

from typing import Any

import dkim
import dns.resolver
import httpx
from sqlalchemy import select

from crypto.sealing import unseal
from outbound import dkim as outbound_dkim
from settings import Settings
from store.base import new_id
from store.models import DkimKey, Domain
from tests.conftest import Tenant

RAW = (b"From: Agent <agent@{domain}>\r\nTo: jane@example.com\r\nSubject: Quarterly report\r\n"
       b"Date: Sat, 21 Nov 2026 04:00:00 +0000\r\nMessage-ID: <r1@{domain}>\r\n"
       b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
       b"Numbers attached.\r\n.leading dot line\r\n")  # fmt: skip


def _dnsfunc(session_dns: Any) -> Any:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = session_dns.port

    def txt(name: bytes, timeout: float = 5) -> bytes | None:
        try:
            answer = resolver.resolve(name.decode().rstrip("."), "TXT", lifetime=timeout)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        return b"".join(b"".join(r.strings) for r in answer)

    return txt


async def _domain(sessionmaker: Any, org_id: str | None, name: str) -> str:
    async with sessionmaker.begin() as s:
        d = Domain(id=new_id("dom"), org_id=org_id, name=name, is_default=False, status="verified")
        s.add(d)
    return d.id


async def _sign(sessionmaker: Any, settings: Settings, org_id: str, domain: str) -> bytes:
    async with sessionmaker() as s:
        return await outbound_dkim.sign(s, org_id, domain, RAW.replace(b"{domain}", domain.encode()),
                                        master_key=settings.master_key_bytes())  # fmt: skip


async def test_dkim_signed_mail_verifies_against_the_published_record(
    api: httpx.AsyncClient, tenant: Tenant, sessionmaker: Any, settings: Settings, session_dns: Any
) -> None:
    domain_id = await _domain(sessionmaker, tenant.org_id, f"{tenant.org_id[-8:]}.mail.test")
    r = await api.get(f"/v1/domains/{domain_id}/dkim", headers=tenant.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    record = body["dns_record"]
    assert record["type"] == "TXT"
    assert record["name"] == f"{body['selector']}._domainkey.{body['domain']}"
    assert record["value"] == f"v=DKIM1; k=rsa; p={body['public_key']}"
    assert body["key_bits"] == 2048
    # Reading again returns the same key (generated once).
    assert (await api.get(f"/v1/domains/{domain_id}/dkim", headers=tenant.headers)).json()["selector"] == body["selector"]

    session_dns.add(record["name"], TXT=[record["value"]])
    signed = await _sign(sessionmaker, settings, tenant.org_id, body["domain"])
    assert signed.startswith(b"DKIM-Signature:")
    assert f"d={body['domain']}".encode() in signed and f"s={body['selector']}".encode() in signed
    assert dkim.verify(signed, dnsfunc=_dnsfunc(session_dns))
    # A changed body no longer verifies: the signature covers it.
    assert not dkim.verify(signed.replace(b"Numbers attached", b"Numbers changed"),
                           dnsfunc=_dnsfunc(session_dns))  # fmt: skip


async def test_dkim_private_key_is_sealed_at_rest(
    api: httpx.AsyncClient, tenant: Tenant, sessionmaker: Any, settings: Settings
) -> None:
    domain_id = await _domain(sessionmaker, tenant.org_id, f"{tenant.org_id[-8:]}.sealed.test")
    body = (await api.get(f"/v1/domains/{domain_id}/dkim", headers=tenant.headers)).json()
    assert "private" not in " ".join(body).lower()
    async with sessionmaker() as s:
        key = await s.scalar(select(DkimKey).where(DkimKey.domain_id == domain_id))
    assert key is not None and "PRIVATE KEY" not in key.private_key_sealed
    pem = unseal(settings.master_key_bytes(), key.private_key_sealed, outbound_dkim.SEAL_PURPOSE)
    assert pem.startswith("-----BEGIN RSA PRIVATE KEY-----")


async def test_dkim_rotation_signs_with_the_new_selector(
    api: httpx.AsyncClient, tenant: Tenant, sessionmaker: Any, settings: Settings, session_dns: Any
) -> None:
    domain_id = await _domain(sessionmaker, tenant.org_id, f"{tenant.org_id[-8:]}.rotate.test")
    first = (await api.get(f"/v1/domains/{domain_id}/dkim", headers=tenant.headers)).json()
    r = await api.post(f"/v1/domains/{domain_id}/dkim/rotate", headers=tenant.headers)
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["selector"] != first["selector"] and second["public_key"] != first["public_key"]
    assert (await api.get(f"/v1/domains/{domain_id}/dkim", headers=tenant.headers)).json()["selector"] == second["selector"]
    session_dns.add(second["dns_record"]["name"], TXT=[second["dns_record"]["value"]])
    signed = await _sign(sessionmaker, settings, tenant.org_id, second["domain"])
    assert f"s={second['selector']}".encode() in signed
    assert dkim.verify(signed, dnsfunc=_dnsfunc(session_dns))


async def test_dkim_sign_leaves_mail_of_unkeyed_or_foreign_domains_unchanged(
    api: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant, sessionmaker: Any, settings: Settings
) -> None:
    name = f"{tenant.org_id[-8:]}.foreign.test"
    domain_id = await _domain(sessionmaker, tenant.org_id, name)
    raw = RAW.replace(b"{domain}", name.encode())
    async with sessionmaker() as s:  # no key yet
        assert await outbound_dkim.sign(s, tenant.org_id, name, raw, master_key=b"unused") == raw
    assert (await api.get(f"/v1/domains/{domain_id}/dkim", headers=tenant.headers)).status_code == 200
    # The other organization cannot sign as this domain, nor read or rotate its key.
    async with sessionmaker() as s:
        assert await outbound_dkim.sign(s, other_tenant.org_id, name, raw,
                                        master_key=settings.master_key_bytes()) == raw  # fmt: skip
    assert (await api.get(f"/v1/domains/{domain_id}/dkim", headers=other_tenant.headers)).status_code == 404
    assert (await api.post(f"/v1/domains/{domain_id}/dkim/rotate", headers=other_tenant.headers)).status_code == 404
    assert (await api.get("/v1/domains/dom_nope/dkim", headers=tenant.headers)).status_code == 404


async def test_dkim_of_a_platform_domain_is_readable_but_rotated_only_by_a_superadmin(
    api: httpx.AsyncClient, tenant: Tenant, sessionmaker: Any, settings: Settings, superadmin_key: str
) -> None:
    async with sessionmaker() as s:
        default = await s.scalar(select(Domain).where(Domain.name == settings.default_domain))
    assert default is not None
    r = await api.get(f"/v1/domains/{default.id}/dkim", headers=tenant.headers)
    assert r.status_code == 200 and r.json()["domain"] == settings.default_domain
    r = await api.post(f"/v1/domains/{default.id}/dkim/rotate", headers=tenant.headers)
    assert r.status_code == 403
    r = await api.post(f"/v1/domains/{default.id}/dkim/rotate",
                       headers={"Authorization": f"Bearer {superadmin_key}"})  # fmt: skip
    assert r.status_code == 200
