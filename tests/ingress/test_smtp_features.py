"""What the ingress advertises and enforces at the protocol level: SIZE, 8BITMIME, SMTPUTF8,
optional STARTTLS with a configured certificate, and mail in UTF-8 addresses/bodies."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from httpx import AsyncClient

from ingress.server import start_ingress
from settings import Settings
from tests.conftest import Tenant, create_inbox


def self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))  # fmt: skip
    cert_file, key_file = tmp / "cert.pem", tmp / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return cert_file, key_file


async def test_ehlo_advertises_size_8bitmime_and_smtputf8(ingress: Any, settings: Settings) -> None:
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=ingress.port, start_tls=False)
    await smtp.connect()
    await smtp.ehlo()
    assert smtp.supports_extension("8BITMIME") and smtp.supports_extension("SMTPUTF8")
    assert smtp.esmtp_extensions["size"] == str(settings.max_message_bytes)
    assert not smtp.supports_extension("STARTTLS")  # no certificate configured
    await smtp.quit()


async def test_utf8_mail_is_accepted(api: AsyncClient, tenant: Tenant, ingress: Any) -> None:
    inbox = await create_inbox(api, tenant)
    raw = f"From: Jürgen <jürgen@bücher.example>\r\nTo: {inbox['address']}\r\nSubject: Grüße\r\n\r\nÄpfel\r\n".encode()
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=ingress.port, start_tls=False)
    await smtp.connect()
    _, reply = await smtp.sendmail("jürgen@bücher.example", [inbox["address"]], raw, mail_options=["SMTPUTF8"])
    await smtp.quit()
    assert reply.startswith("2.0.0")


async def test_starttls_with_configured_certificate(
    api: AsyncClient, tenant: Tenant, settings: Settings, tmp_path: Path
) -> None:
    inbox = await create_inbox(api, tenant)
    cert, key = self_signed(tmp_path)
    tls = await start_ingress(settings.model_copy(update={
        "smtp_tls_cert_file": cert, "smtp_tls_key_file": key, "smtp_require_starttls": True}))  # fmt: skip
    try:
        client_ctx = ssl.create_default_context(cafile=str(cert))
        # Before STARTTLS, MAIL is refused when TLS is required.
        plain = aiosmtplib.SMTP(hostname="127.0.0.1", port=tls.port, start_tls=False)
        await plain.connect()
        await plain.ehlo()
        assert plain.supports_extension("STARTTLS")
        with pytest.raises(aiosmtplib.SMTPResponseException) as exc:
            await plain.mail("a@example.com")
        assert exc.value.code == 530
        await plain.quit()
        secure = aiosmtplib.SMTP(hostname="localhost", port=tls.port, start_tls=True, tls_context=client_ctx)
        await secure.connect()
        _, reply = await secure.sendmail("a@example.com", [inbox["address"]],
                                         f"To: {inbox['address']}\r\nSubject: tls\r\n\r\nsecret\r\n".encode())  # fmt: skip
        assert secure.transport is not None and secure.transport.get_extra_info("ssl_object") is not None
        await secure.quit()
        assert reply.startswith("2.0.0")
    finally:
        await tls.close()
