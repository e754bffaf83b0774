"""DKIM verification (dkimpy) with keys served by a loopback DNS server through our resolver."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mailauth.dkim_signatures import MAX_SIGNATURES, verify_signatures
from mailauth.resolver import Resolver
from tests.helpers.dns_server import DnsServer

MESSAGE = (
    b"From: Alice <alice@example.com>\r\n"
    b"To: bot@agents.example.net\r\n"
    b"Subject: quarterly numbers\r\n"
    b"Message-ID: <1@example.com>\r\n"
    b"\r\n"
    b"The numbers are in.\r\n"
)


class SigningKey:
    def __init__(self) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.record = "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()

    def sign(self, message: bytes, domain: str = "example.com", selector: str = "sel") -> bytes:
        return dkim.sign(message, selector.encode(), domain.encode(), self.private_pem) + message


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey()


@pytest.fixture(scope="module")
def other_key() -> SigningKey:
    return SigningKey()


@pytest.fixture
def dns(key: SigningKey) -> Iterator[DnsServer]:
    with DnsServer({"sel._domainkey.example.com": {"TXT": [key.record]}}) as server:
        yield server


async def verify(server: DnsServer, raw: bytes) -> tuple[str, tuple[str, ...]]:
    resolver = Resolver(["127.0.0.1"], port=server.port, timeout=0.3, lifetime=0.6)
    result = await verify_signatures(raw, resolver)
    return result.result, result.passing_domains


async def test_valid_signature_passes(dns: DnsServer, key: SigningKey) -> None:
    assert await verify(dns, key.sign(MESSAGE)) == ("pass", ("example.com",))
    assert dns.query_count("sel._domainkey.example.com", "TXT") == 1


async def test_altered_body_fails(dns: DnsServer, key: SigningKey) -> None:
    tampered = key.sign(MESSAGE).replace(b"numbers are in", b"numbers are out")
    assert await verify(dns, tampered) == ("fail", ())


async def test_altered_signed_header_fails(dns: DnsServer, key: SigningKey) -> None:
    tampered = key.sign(MESSAGE).replace(b"quarterly numbers", b"wire the money")
    assert await verify(dns, tampered) == ("fail", ())


async def test_signature_by_other_key_fails(dns: DnsServer, other_key: SigningKey) -> None:
    assert await verify(dns, other_key.sign(MESSAGE)) == ("fail", ())


async def test_unknown_selector_is_permerror(dns: DnsServer, key: SigningKey) -> None:
    assert await verify(dns, key.sign(MESSAGE, selector="gone")) == ("permerror", ())


async def test_unparseable_key_record_is_permerror(dns: DnsServer, key: SigningKey) -> None:
    dns.add("bad._domainkey.example.com", TXT=["v=DKIM1; k=rsa; p=!!notbase64!!"])
    assert await verify(dns, key.sign(MESSAGE, selector="bad")) == ("permerror", ())


async def test_servfail_on_key_is_temperror(key: SigningKey) -> None:
    with DnsServer(servfail={"sel._domainkey.example.com"}) as server:
        assert await verify(server, key.sign(MESSAGE)) == ("temperror", ())


async def test_message_without_signature_is_none(dns: DnsServer) -> None:
    assert await verify(dns, MESSAGE) == ("none", ())
    assert dns.queries == []


async def test_malformed_signature_field_is_permerror(dns: DnsServer) -> None:
    raw = b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com\r\n" + MESSAGE  # no s=, b=, bh=
    assert await verify(dns, raw) == ("permerror", ())


async def test_any_passing_signature_passes_and_lists_only_passing_domains(
    dns: DnsServer, key: SigningKey, other_key: SigningKey
) -> None:
    dns.add("s2._domainkey.relay.example.org", TXT=[key.record])
    signed = key.sign(MESSAGE)
    # A second signature whose key record does not match its signer: it must fail alone.
    twice = dkim.sign(signed, b"s2", b"relay.example.org", other_key.private_pem) + signed
    assert await verify(dns, twice) == ("pass", ("example.com",))


async def test_every_signature_is_verified_not_just_the_first(
    dns: DnsServer, key: SigningKey
) -> None:
    dns.add("s2._domainkey.relay.example.org", TXT=[key.record])
    signed = key.sign(MESSAGE)
    twice = dkim.sign(signed, b"s2", b"relay.example.org", key.private_pem) + signed
    assert await verify(dns, twice) == ("pass", ("relay.example.org", "example.com"))


async def test_garbage_input_does_not_raise(dns: DnsServer) -> None:
    for raw in (b"", b"\x00\xff\xfe" * 50, b"DKIM-Signature:\r\n\r\n", b"no colon here\r\n\r\n"):
        result, domains = await verify(dns, raw)
        assert result in ("none", "permerror")
        assert domains == ()


async def test_signatures_beyond_limit_are_not_looked_up(dns: DnsServer, key: SigningKey) -> None:
    raw = MESSAGE
    for index in range(MAX_SIGNATURES + 5):
        raw = key.sign(raw, selector=f"s{index}")
    result, _ = await verify(dns, raw)
    assert result == "permerror"  # none of the selectors exist
    assert len(dns.queries) == MAX_SIGNATURES
