"""SPF/DKIM/DMARC verdicts computed by the pipeline (never read from the forgeable header),
through SMTP and the local DNS fixture; DMARC failures flag their codes untrusted."""

from __future__ import annotations

import uuid
from typing import Any

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from httpx import AsyncClient

from tests.conftest import Tenant, create_inbox
from tests.helpers.eventually import eventually
from tests.helpers.smtp import send_raw


def domain() -> str:
    return f"d{uuid.uuid4().hex[:10]}.test"


def signed_mail(to: str, sender_domain: str, key_pem: bytes, body: str, forged_ar: bool = False) -> bytes:
    headers = (f"From: Service <no-reply@{sender_domain}>\r\nTo: {to}\r\nSubject: Your code\r\n"
               f"Message-ID: <{uuid.uuid4().hex}@{sender_domain}>\r\n")  # fmt: skip
    if forged_ar:
        headers = "Authentication-Results: mx.example; dkim=pass; spf=pass; dmarc=pass\r\n" + headers
    raw = (headers + "\r\n" + body + "\r\n").encode()
    sig = dkim.sign(raw, b"sel", sender_domain.encode(), key_pem, include_headers=[b"from", b"to", b"subject"])
    return sig + raw


async def done_message(api: AsyncClient, t: Tenant, inbox: dict[str, Any]) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        data = (await api.get(f"/v1/inboxes/{inbox['id']}/messages", headers=t.headers)).json()["data"]
        if data and data[0]["pipeline_state"] == "done":
            return (await api.get(f"/v1/messages/{data[0]['id']}", headers=t.headers)).json()  # type: ignore[no-any-return]
        return None

    return await eventually(probe, timeout=30)


async def test_dkim_signed_aligned_mail_passes_dmarc_and_codes_are_trusted(
    api: AsyncClient, tenant: Tenant, ingress: Any, worker: Any, session_dns: Any
) -> None:
    d = domain()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())  # fmt: skip
    pub = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    import base64

    session_dns.add(f"sel._domainkey.{d}", TXT=[f"v=DKIM1; k=rsa; p={base64.b64encode(pub).decode()}"])
    session_dns.add(f"_dmarc.{d}", TXT=["v=DMARC1; p=reject"])
    session_dns.add(d, TXT=["v=spf1 ip4:127.0.0.1 -all"])
    inbox = await create_inbox(api, tenant)
    await send_raw(ingress.port, f"bounce@{d}", [inbox["address"]],
                   signed_mail(inbox["address"], d, pem, "Your verification code is 552019."))  # fmt: skip
    m = await done_message(api, tenant, inbox)
    ar = m["authentication_results"]
    assert (ar["spf"], ar["dkim"], ar["dmarc"]) == ("pass", "pass", "pass")
    assert m["extracted"]["otp_codes"] == [{"code": "552019", "trusted": True}]
    assert "unauthenticated" not in m["labels"]


async def test_spoofed_sender_fails_dmarc_is_labelled_and_codes_untrusted(
    api: AsyncClient, tenant: Tenant, ingress: Any, worker: Any, session_dns: Any
) -> None:
    d = domain()
    session_dns.add(f"_dmarc.{d}", TXT=["v=DMARC1; p=reject"])
    session_dns.add(d, TXT=["v=spf1 ip4:192.0.2.10 -all"])  # not us: loopback is not allowed
    inbox = await create_inbox(api, tenant)
    raw = (f"Authentication-Results: mx.example; dkim=pass; spf=pass; dmarc=pass\r\n"
           f"From: Bank <security@{d}>\r\nTo: {inbox['address']}\r\nSubject: Security code\r\n\r\n"
           f"Your security code is 771203.\r\n").encode()  # fmt: skip
    await send_raw(ingress.port, f"security@{d}", [inbox["address"]], raw)
    m = await done_message(api, tenant, inbox)
    assert m["authentication_results"]["spf"] == "fail"
    assert m["authentication_results"]["dmarc"] == "fail"  # the forged header changed nothing
    assert "unauthenticated" in m["labels"]
    assert m["extracted"]["otp_codes"] == [{"code": "771203", "trusted": False}]
