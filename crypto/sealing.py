"""Sealing of secrets at rest (webhook secrets, SMTP passwords, DKIM keys) with the master key.

AES-256-GCM under a key derived from the master key with HKDF; the purpose string binds a
sealed value to what it is, so one kind of secret cannot be swapped in for another.
"""

from __future__ import annotations

import base64
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = b"v1"


def _derive(master_key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"postflow-seal").derive(
        master_key
    )


def seal(master_key: bytes, plaintext: str, purpose: str) -> str:
    nonce = os.urandom(12)
    ct = AESGCM(_derive(master_key)).encrypt(nonce, plaintext.encode(), purpose.encode())
    return _VERSION.decode() + ":" + base64.urlsafe_b64encode(nonce + ct).decode()


def unseal(master_key: bytes, sealed: str, purpose: str) -> str:
    version, _, body = sealed.partition(":")
    if version != _VERSION.decode():
        raise ValueError("unknown sealed-secret version")
    raw = base64.urlsafe_b64decode(body)
    return AESGCM(_derive(master_key)).decrypt(raw[:12], raw[12:], purpose.encode()).decode()
