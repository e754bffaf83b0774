"""authenticate(): SPF + DKIM + DMARC together, the time budget, and never raising."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mailauth.resolver import Resolver
from mailauth.verdicts import AuthVerdicts, authenticate
from tests.helpers.dns_server import DnsServer

SENDER_IP = "192.0.2.10"
OTHER_IP = "198.51.100.66"


def message(author: str = "alice@example.com", extra_headers: str = "") -> bytes:
    return (
        f"From: Alice <{author}>\r\n{extra_headers}To: bot@agents.example.net\r\n"
        "Subject: hello\r\nMessage-ID: <2@example.com>\r\n\r\nHi there.\r\n"
    ).encode()


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def sign(raw: bytes, key: rsa.RSAPrivateKey, domain: str = "example.com") -> bytes:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return dkim.sign(raw, b"sel", domain.encode(), pem) + raw


def key_record(key: rsa.RSAPrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


@pytest.fixture
def dns(private_key: rsa.RSAPrivateKey) -> Iterator[DnsServer]:
    records = {
        "example.com": {"TXT": [f"v=spf1 ip4:{SENDER_IP} -all"]},
        "_dmarc.example.com": {"TXT": ["v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@x.org"]},
        "sel._domainkey.example.com": {"TXT": [key_record(private_key)]},
        "bulk.example.net": {"TXT": [f"v=spf1 ip4:{SENDER_IP} -all"]},
        "sel._domainkey.bulk.example.net": {"TXT": [key_record(private_key)]},
    }
    with DnsServer(records) as server:
        yield server


async def run(
    server: DnsServer,
    raw: bytes,
    *,
    ip: str | None = SENDER_IP,
    mail_from: str = "bounces@example.com",
    helo: str | None = "mx.example.com",
    budget: float = 3.0,
    lifetime: float = 0.6,
) -> AuthVerdicts:
    resolver = Resolver(["127.0.0.1"], port=server.port, timeout=0.3, lifetime=lifetime)
    return await authenticate(
        raw, client_ip=ip, helo=helo, mail_from=mail_from, resolver=resolver, budget=budget
    )


async def test_aligned_spf_and_dkim_pass_dmarc(
    dns: DnsServer, private_key: rsa.RSAPrivateKey
) -> None:
    verdicts = await run(dns, sign(message(), private_key))
    assert verdicts == AuthVerdicts(
        spf="pass",
        spf_domain="example.com",
        dkim="pass",
        dkim_domains=("example.com",),
        dmarc="pass",
        dmarc_policy="reject",
        header_from_domain="example.com",
    )


async def test_aligned_dkim_pass_alone_passes_dmarc(
    dns: DnsServer, private_key: rsa.RSAPrivateKey
) -> None:
    # Forwarded mail: SPF fails from the forwarder's IP, the intact signature carries DMARC.
    verdicts = await run(dns, sign(message(), private_key), ip=OTHER_IP)
    assert (verdicts.spf, verdicts.dkim, verdicts.dmarc) == ("fail", "pass", "pass")


async def test_spf_pass_misaligned_without_dkim_fails_dmarc(dns: DnsServer) -> None:
    verdicts = await run(dns, message(), mail_from="mailer@bulk.example.net")
    assert (verdicts.spf, verdicts.spf_domain) == ("pass", "bulk.example.net")
    assert (verdicts.dkim, verdicts.dmarc, verdicts.dmarc_policy) == ("none", "fail", "reject")


async def test_dkim_pass_misaligned_fails_dmarc(
    dns: DnsServer, private_key: rsa.RSAPrivateKey
) -> None:
    verdicts = await run(dns, sign(message(), private_key, "bulk.example.net"), ip=OTHER_IP)
    assert (verdicts.dkim, verdicts.dkim_domains) == ("pass", ("bulk.example.net",))
    assert verdicts.dmarc == "fail"


async def test_relaxed_alignment_accepts_subdomain_spf_identity(dns: DnsServer) -> None:
    dns.add("mail.example.com", TXT=[f"v=spf1 ip4:{SENDER_IP} -all"])
    verdicts = await run(dns, message(), mail_from="bounce@mail.example.com")
    assert (verdicts.spf, verdicts.dmarc) == ("pass", "pass")


async def test_strict_spf_alignment_rejects_subdomain_identity(dns: DnsServer) -> None:
    dns.records["_dmarc.example.com"]["TXT"] = ["v=DMARC1; p=quarantine; aspf=s"]
    dns.add("mail.example.com", TXT=[f"v=spf1 ip4:{SENDER_IP} -all"])
    verdicts = await run(dns, message(), mail_from="bounce@mail.example.com")
    assert (verdicts.spf, verdicts.dmarc, verdicts.dmarc_policy) == ("pass", "fail", "quarantine")


async def test_strict_dkim_alignment_rejects_parent_domain_signature(
    dns: DnsServer, private_key: rsa.RSAPrivateKey
) -> None:
    dns.add("_dmarc.news.example.com", TXT=["v=DMARC1; p=reject; adkim=s"])
    raw = sign(message("alice@news.example.com"), private_key)  # d=example.com
    verdicts = await run(dns, raw, ip=OTHER_IP)
    assert (verdicts.dkim, verdicts.dmarc) == ("pass", "fail")


async def test_subdomain_without_record_uses_organizational_policy(
    dns: DnsServer, private_key: rsa.RSAPrivateKey
) -> None:
    raw = sign(message("alice@sub.example.com"), private_key)
    verdicts = await run(dns, raw, ip=OTHER_IP)
    assert verdicts.header_from_domain == "sub.example.com"
    # Relaxed alignment: d=example.com covers sub.example.com; the org record's sp= applies.
    assert (verdicts.dmarc, verdicts.dmarc_policy) == ("pass", "quarantine")
    assert dns.query_count("_dmarc.sub.example.com", "TXT") == 1
    assert dns.query_count("_dmarc.example.com", "TXT") == 1


async def test_organizational_fallback_uses_p_when_sp_absent(dns: DnsServer) -> None:
    dns.add("_dmarc.example.org", TXT=["v=DMARC1; p=reject"])
    verdicts = await run(dns, message("alice@deep.sub.example.org"), ip=OTHER_IP)
    assert (verdicts.dmarc, verdicts.dmarc_policy) == ("fail", "reject")


async def test_no_dmarc_record_is_none(dns: DnsServer) -> None:
    verdicts = await run(dns, message("alice@nodmarc.example"), mail_from="x@nodmarc.example")
    assert (verdicts.spf, verdicts.dmarc, verdicts.dmarc_policy) == ("none", "none", None)


async def test_two_dmarc_records_mean_no_policy(dns: DnsServer) -> None:
    dns.add("_dmarc.example.org", TXT=["v=DMARC1; p=reject", "v=DMARC1; p=none"])
    verdicts = await run(dns, message("alice@example.org"))
    assert (verdicts.dmarc, verdicts.dmarc_policy) == ("none", None)


async def test_invalid_dmarc_policy_is_permerror(dns: DnsServer) -> None:
    dns.add("_dmarc.example.org", TXT=["v=DMARC1; p=block"])
    verdicts = await run(dns, message("alice@example.org"))
    assert (verdicts.dmarc, verdicts.dmarc_policy) == ("permerror", None)


async def test_invalid_policy_with_report_address_counts_as_p_none(dns: DnsServer) -> None:
    dns.add("_dmarc.example.org", TXT=["v=DMARC1; p=block; rua=mailto:dmarc@example.org"])
    verdicts = await run(dns, message("alice@example.org"))
    assert (verdicts.dmarc, verdicts.dmarc_policy) == ("fail", "none")


async def test_multiple_from_fields_are_permerror(dns: DnsServer) -> None:
    raw = message(extra_headers="From: Mallory <mallory@evil.example>\r\n")
    verdicts = await run(dns, raw)
    assert (verdicts.dmarc, verdicts.header_from_domain) == ("permerror", None)
    assert verdicts.spf == "pass"  # SPF does not depend on the header


async def test_missing_from_is_none(dns: DnsServer) -> None:
    raw = b"To: bot@agents.example.net\r\nSubject: no author\r\n\r\nbody\r\n"
    verdicts = await run(dns, raw)
    assert (verdicts.dmarc, verdicts.header_from_domain) == ("none", None)


async def test_dmarc_lookup_servfail_is_temperror() -> None:
    with DnsServer(servfail={"_dmarc.example.com"}) as server:
        verdicts = await run(server, message())
    assert verdicts.dmarc == "temperror"


async def test_internal_delivery_without_client_ip_has_spf_none(
    dns: DnsServer, private_key: rsa.RSAPrivateKey
) -> None:
    verdicts = await run(dns, sign(message(), private_key), ip=None)
    assert (verdicts.spf, verdicts.spf_domain, verdicts.dmarc) == ("none", None, "pass")
    assert dns.query_count("example.com", "TXT") == 0


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\x01\x02\xff" * 200,
        b"\r\n\r\n\r\n",
        b"From: \r\n\r\n",
        b"From: <@>\r\nDKIM-Signature: v=1; d=;\r\n\r\n",
        b"From: \xe9\xe8@\xff\xfe.example\r\n\r\n",
        b"DKIM-Signature: " + b"a" * 100_000 + b"\r\n\r\n",
        "From: ü@bücher.example\r\n\r\n".encode(),
    ],
)
async def test_garbage_input_never_raises(dns: DnsServer, raw: bytes) -> None:
    verdicts = await run(dns, raw, mail_from="<>", helo="[192.0.2.1]")
    assert verdicts.dkim in ("none", "permerror")
    assert verdicts.dmarc in ("none", "permerror")
    json.dumps(verdicts.as_dict())


async def test_odd_envelope_values_never_raise(dns: DnsServer) -> None:
    for ip, mail_from, helo in [
        ("999.1.1.1", "x@example.com", None),
        ("", "", ""),
        ("::1", "<<@>>", "\x00"),
        ("192.0.2.10", "@", None),
    ]:
        verdicts = await run(dns, message(), ip=ip, mail_from=mail_from, helo=helo)
        assert verdicts.spf in ("none", "permerror")


async def test_budget_bounds_call_when_dns_is_slow(private_key: rsa.RSAPrivateKey) -> None:
    slow = ["example.com", "_dmarc.example.com", "sel._domainkey.example.com"]
    with DnsServer(delays=dict.fromkeys(slow, 5.0)) as server:
        started = time.monotonic()
        verdicts = await run(server, sign(message(), private_key), budget=0.5, lifetime=10.0)
        elapsed = time.monotonic() - started
    assert elapsed < 0.5 + 0.5  # budget + slack, against 5 s DNS delays
    assert (verdicts.spf, verdicts.dkim, verdicts.dmarc) == ("temperror",) * 3
    assert verdicts.spf_domain == "example.com"


async def test_budget_keeps_finished_results(
    dns: DnsServer, private_key: rsa.RSAPrivateKey
) -> None:
    dns.delays["sel._domainkey.example.com"] = 5.0
    verdicts = await run(dns, sign(message(), private_key), budget=0.5, lifetime=10.0)
    # SPF finished in time and is an aligned pass, so DMARC passes without DKIM.
    assert (verdicts.spf, verdicts.dkim, verdicts.dmarc) == ("pass", "temperror", "pass")


async def test_unfinished_aligned_dkim_makes_dmarc_temperror_not_fail(
    dns: DnsServer, private_key: rsa.RSAPrivateKey
) -> None:
    dns.delays["sel._domainkey.example.com"] = 5.0
    verdicts = await run(dns, sign(message(), private_key), ip=OTHER_IP, budget=0.5, lifetime=10.0)
    assert (verdicts.spf, verdicts.dkim, verdicts.dmarc) == ("fail", "temperror", "temperror")


async def test_spf_temperror_on_aligned_identity_makes_dmarc_temperror(dns: DnsServer) -> None:
    dns.delays["example.com"] = 3.0  # the SPF record lookup times out; DMARC's does not
    verdicts = await run(dns, message(), lifetime=0.4)
    assert (verdicts.spf, verdicts.dkim, verdicts.dmarc) == ("temperror", "none", "temperror")


async def test_as_dict_is_json_ready(dns: DnsServer, private_key: rsa.RSAPrivateKey) -> None:
    data = (await run(dns, sign(message(), private_key))).as_dict()
    assert json.loads(json.dumps(data)) == {
        "spf": "pass",
        "spf_domain": "example.com",
        "dkim": "pass",
        "dkim_domains": ["example.com"],
        "dmarc": "pass",
        "dmarc_policy": "reject",
        "header_from_domain": "example.com",
    }
