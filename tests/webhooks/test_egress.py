"""SSRF protection of outbound webhook requests, against a real loopback receiver and the
session's real DNS server: address classes refused unless the operator allows them, names
judged by what they resolve to on every request (DNS rebinding), connections pinned to the
checked address with TLS verified against the name, no redirects, a deadline, a capped body."""

from __future__ import annotations

import ipaddress
import ssl
import time
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import egress
from settings import Settings
from tests.helpers.receiver import Receiver, Reply


def strict(settings: Settings, **changes: Any) -> Settings:
    """The shipped defaults: https only, no allowed networks."""
    return settings.model_copy(update={"webhook_allow_http": False, "webhook_allow_networks": "", **changes})


def name(session_dns: Any, *addresses: str) -> str:
    host = f"hook-{uuid.uuid4().hex[:8]}.test"
    session_dns.add(host, A=list(addresses))
    return host


@pytest.mark.parametrize("url", [
    "https://127.0.0.1/hook", "https://127.1/hook", "https://0x7f000001/hook", "https://[::1]/",
    "https://localhost:8443/", "https://[::ffff:127.0.0.1]/", "https://10.1.2.3/",
    "https://172.16.0.1/", "https://192.168.1.10/", "https://[fd12:3456::1]/",
    "https://169.254.169.254/latest/meta-data/", "https://[fd00:ec2::254]/",
    "https://100.100.100.200/", "https://100.64.0.1/", "https://[fe80::1]/", "https://0.0.0.0/",
    "https://224.0.0.1/", "https://[ff02::1]/", "https://[64:ff9b::a9fe:a9fe]/",
])  # fmt: skip
def test_private_and_special_addresses_are_refused(settings: Settings, url: str) -> None:
    with pytest.raises(egress.UnsafeTarget) as err:
        egress.check_url(url, strict(settings))
    assert "address" in err.value.reason


def test_metadata_refused_even_where_loopback_is_allowed(settings: Settings) -> None:
    # The test settings allow http and 127.0.0.0/8, as an operator running local receivers would.
    egress.check_url("http://127.0.0.1:9/hook", settings)
    with pytest.raises(egress.UnsafeTarget, match="metadata"):
        egress.check_url("http://169.254.169.254/latest/meta-data/", settings)
    # ...unless the operator allows exactly that network.
    egress.check_url("http://169.254.169.254/", strict(settings, webhook_allow_http=True,
                                                       webhook_allow_networks="169.254.169.254/32"))


def test_http_and_odd_urls_refused_unless_allowed(settings: Settings) -> None:
    with pytest.raises(egress.UnsafeTarget, match="scheme 'http'"):
        egress.check_url("http://example.com/hook", strict(settings))
    egress.check_url("http://example.com/hook", strict(settings, webhook_allow_http=True))
    for url in ("ftp://example.com/", "https:///path", "not a url", "file:///etc/passwd"):
        with pytest.raises(egress.UnsafeTarget):
            egress.check_url(url, strict(settings))
    egress.check_url("https://example.com/hook", strict(settings))
    egress.check_url("https://93.184.216.34:8443/hook", strict(settings))


async def test_loopback_ip_refused_without_sending(settings: Settings) -> None:
    async with Receiver() as receiver:
        with pytest.raises(egress.UnsafeTarget, match="loopback"):
            await egress.post(receiver.url, body=b"{}", headers={},
                              settings=strict(settings, webhook_allow_http=True))  # fmt: skip
        response = await egress.post(receiver.url, body=b"{}", headers={}, settings=settings)
        assert response.status_code == 200
        assert len(receiver.requests) == 1


async def test_name_resolving_to_loopback_refused(settings: Settings, session_dns: Any) -> None:
    host = name(session_dns, "127.0.0.1")
    async with Receiver() as receiver:
        url = f"http://{host}:{receiver.port}/hooks"
        egress.check_url(url, strict(settings, webhook_allow_http=True))  # no DNS at save time
        with pytest.raises(egress.UnsafeTarget, match=f"{host} resolves to 127.0.0.1 is a loopback"):
            await egress.post(url, body=b"{}", headers={}, settings=strict(settings, webhook_allow_http=True))
        # A name with one private address among public ones is refused as a whole.
        mixed = name(session_dns, "93.184.216.34", "10.0.0.7")
        with pytest.raises(egress.UnsafeTarget, match="10.0.0.7 is a private"):
            await egress.post(f"https://{mixed}/", body=b"{}", headers={}, settings=strict(settings))
        assert receiver.requests == []


async def test_allowed_name_is_pinned_with_its_host_header(settings: Settings, session_dns: Any) -> None:
    host = name(session_dns, "127.0.0.1")
    async with Receiver() as receiver:
        response = await egress.post(f"http://{host}:{receiver.port}/hooks?x=1", body=b'{"a":1}',
                                     headers={"X-Test": "yes"}, settings=settings)  # fmt: skip
        assert (response.status_code, response.address) == (200, "127.0.0.1")
        (request,) = receiver.requests
        assert request.headers["host"] == f"{host}:{receiver.port}"
        assert (request.path, request.body, request.headers["x-test"]) == ("/hooks?x=1", b'{"a":1}', "yes")


async def test_unreachable_address_falls_back_to_the_next_checked_one(settings: Settings) -> None:
    async def resolve(host: str) -> list[Any]:  # an injected resolver: a dead address first
        return [ipaddress.ip_address("127.0.0.2"), ipaddress.ip_address("127.0.0.1")]

    async with Receiver() as receiver:
        response = await egress.post(f"http://hooks.example:{receiver.port}/hooks", body=b"{}",
                                     headers={}, settings=settings, resolve=resolve)  # fmt: skip
        assert (response.status_code, response.address) == (200, "127.0.0.1")
        assert receiver.requests[0].headers["host"] == f"hooks.example:{receiver.port}"


async def test_rebinding_is_caught_on_the_next_request(settings: Settings, session_dns: Any) -> None:
    only_one = settings.model_copy(update={"webhook_allow_networks": "127.0.0.1/32"})
    host = name(session_dns, "127.0.0.1")
    async with Receiver() as receiver:
        url = f"http://{host}:{receiver.port}/hooks"
        assert (await egress.post(url, body=b"{}", headers={}, settings=only_one)).status_code == 200
        session_dns.records[host]["A"] = ["169.254.169.254"]  # the attacker's DNS changes its answer
        with pytest.raises(egress.UnsafeTarget, match="metadata"):
            await egress.post(url, body=b"{}", headers={}, settings=only_one)
        assert len(receiver.requests) == 1


async def test_redirect_is_not_followed(settings: Settings) -> None:
    async with Receiver() as target, Receiver() as receiver:
        receiver.default = Reply(302, headers={"Location": target.url})
        response = await egress.post(receiver.url, body=b"{}", headers={}, settings=settings)
        assert response.status_code == 302
        assert response.headers["location"] == target.url
        assert target.requests == []


async def test_body_capped_and_deadline_enforced(settings: Settings) -> None:
    async with Receiver() as receiver:
        receiver.replies = [Reply(500, body=b"x" * 100_000), Reply(200, delay=3)]
        response = await egress.post(receiver.url, body=b"{}", headers={}, settings=settings,
                                     max_body_bytes=2048)  # fmt: skip
        assert (response.status_code, len(response.body)) == (500, 2048)
        started = time.monotonic()
        with pytest.raises(egress.EgressError) as err:
            await egress.post(receiver.url, body=b"{}", headers={}, settings=settings, timeout=0.5)
        assert err.value.kind == "timeout" and time.monotonic() - started < 2
        assert 400 <= err.value.latency_ms < 2000


async def test_refused_connection_is_an_egress_error(settings: Settings) -> None:
    down = Receiver()  # never started: nothing listens on its port
    with pytest.raises(egress.EgressError) as err:
        await egress.post(down.url, body=b"{}", headers={}, settings=settings)
    assert err.value.kind == "connect"


async def test_https_pinned_to_the_ip_verifies_the_certificate_name(
    settings: Settings, session_dns: Any, tmp_path: Path
) -> None:
    good, other = name(session_dns, "127.0.0.1"), name(session_dns, "127.0.0.1")
    server_ctx, client_ctx = tls_pair(tmp_path, good)
    async with Receiver(ssl_context=server_ctx) as receiver:
        response = await egress.post(f"https://{good}:{receiver.port}/hooks", body=b"{}", headers={},
                                     settings=settings, ssl_context=client_ctx)  # fmt: skip
        assert response.status_code == 200
        assert receiver.requests[0].headers["host"] == f"{good}:{receiver.port}"
        # Same address, another name: the certificate does not match it, so nothing is sent.
        with pytest.raises(egress.EgressError) as err:
            await egress.post(f"https://{other}:{receiver.port}/hooks", body=b"{}", headers={},
                              settings=settings, ssl_context=client_ctx)  # fmt: skip
        assert err.value.kind == "tls"
        assert len(receiver.requests) == 1


def test_retry_after_seconds_and_http_dates() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert egress.retry_after_seconds("120", now) == 120
    assert egress.retry_after_seconds(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30
    assert egress.retry_after_seconds(format_datetime(now - timedelta(hours=1), usegmt=True), now) == 0
    assert egress.retry_after_seconds("soon", now) is None
    assert egress.retry_after_seconds(None, now) is None


def tls_pair(tmp_path: Path, host: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A throwaway CA and a certificate for `host`: (server context, client context)."""
    def cert(subject: str, key: Any, issuer: str, issuer_key: Any, ca: bool) -> x509.Certificate:
        now = datetime.now(UTC)
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                   .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(hours=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))  # fmt: skip
        if not ca:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = cert("Test CA", ca_key, "Test CA", ca_key, True)
    leaf = cert(host, leaf_key, "Test CA", ca_key, False)
    pem = serialization.Encoding.PEM
    (tmp_path / "leaf.pem").write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    (tmp_path / "leaf.key").write_bytes(leaf_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))  # fmt: skip
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tmp_path / "leaf.pem", tmp_path / "leaf.key")
    client = ssl.create_default_context(cadata=ca.public_bytes(pem).decode())
    return server, client
