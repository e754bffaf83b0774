"""DKIM signing of outbound mail with per-domain keys (RSA 2048, dkimpy), and the DNS record
each key needs. Private keys are sealed at rest with the master key (crypto.sealing); the
public key is what `GET /v1/domains/{id}/dkim` publishes.

The master key is passed in (`master_key=`) or found in `session.info[SESSION_MASTER_KEY]`,
which the worker's and the API's sessionmakers carry; nothing here reads the environment.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass
from datetime import UTC, datetime

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.ext.asyncio import AsyncSession

from crypto.sealing import seal, unseal
from store import dkim_keys
from store.models import DkimKey, Domain

SEAL_PURPOSE = "dkim-private-key"
SESSION_MASTER_KEY = "postflow_master_key"
KEY_BITS = 2048
# Signed when present (From is mandatory); oversigning From stops a second From being added.
SIGNED_HEADERS = [
    b"from", b"from", b"to", b"cc", b"subject", b"date", b"message-id", b"reply-to",
    b"in-reply-to", b"references", b"mime-version", b"content-type",
    b"content-transfer-encoding", b"list-unsubscribe", b"list-unsubscribe-post",
]  # fmt: skip


@dataclass(frozen=True)
class DkimRecord:
    """The DNS TXT record publishing a key: `{selector}._domainkey.{domain}` TXT `value`."""

    domain: str
    selector: str
    name: str
    value: str
    public_key: str


def dns_record(domain: Domain, key: DkimKey) -> DkimRecord:
    return DkimRecord(
        domain=domain.name, selector=key.selector, name=f"{key.selector}._domainkey.{domain.name}",
        value=f"v=DKIM1; k=rsa; p={key.public_key}", public_key=key.public_key,
    )  # fmt: skip


def _generate(bits: int) -> tuple[str, str]:
    """(PEM private key, base64 DER SubjectPublicKeyInfo) of a fresh RSA key."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem, base64.b64encode(der).decode()


def _master_key(session: AsyncSession, master_key: bytes | None) -> bytes:
    key = master_key or session.info.get(SESSION_MASTER_KEY)
    if not key:
        raise RuntimeError("DKIM needs the master key: pass master_key= or set session.info")
    return key  # type: ignore[no-any-return]


async def create_key(
    session: AsyncSession, domain: Domain, *, master_key: bytes | None = None
) -> DkimKey:
    """A new active key for `domain` (a rotation when it had one already)."""
    sealing_key = _master_key(session, master_key)
    pem, public = await asyncio.to_thread(_generate, KEY_BITS)
    selector = "pf" + datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    existing = await dkim_keys.active_key(session, domain.id)
    if existing is not None and existing.selector == selector:
        selector += "b"  # two rotations within a second
    return await dkim_keys.add_key(
        session, domain, selector=selector, public_key=public, key_bits=KEY_BITS,
        private_key_sealed=seal(sealing_key, pem, SEAL_PURPOSE),
    )  # fmt: skip


async def ensure_key(
    session: AsyncSession, domain: Domain, *, master_key: bytes | None = None
) -> DkimKey:
    """The domain's active key, generated on first use."""
    key = await dkim_keys.active_key(session, domain.id)
    if key is not None:
        return key
    return await create_key(session, domain, master_key=master_key)


async def sign(
    session: AsyncSession, org_id: str, domain: str, raw: bytes, *, master_key: bytes | None = None
) -> bytes:
    """`raw` with a DKIM-Signature (d=`domain`) prepended; unchanged when the domain is not the
    organization's (or a platform domain) or has no key yet."""
    found = await dkim_keys.domain_by_name(session, org_id, domain)
    if found is None:
        return raw
    key = await dkim_keys.active_key(session, found.id)
    if key is None:
        return raw
    pem = unseal(_master_key(session, master_key), key.private_key_sealed, SEAL_PURPOSE)
    return await asyncio.to_thread(_sign, raw, key.selector, found.name, pem)


def _sign(raw: bytes, selector: str, domain: str, pem: str) -> bytes:
    present = {line.split(b":", 1)[0].strip().lower() for line in _header_lines(raw)}
    headers = [h for h in SIGNED_HEADERS if h in present or h == b"from"]
    signature = dkim.sign(
        raw, selector.encode(), domain.encode(), pem.encode(),
        canonicalize=(b"relaxed", b"relaxed"), include_headers=headers,
        linesep=b"\r\n" if b"\r\n" in raw else b"\n",
    )  # fmt: skip
    return signature + raw


def _header_lines(raw: bytes) -> list[bytes]:
    head = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
    return [line for line in head.splitlines() if line and line[:1] not in (b" ", b"\t")]
