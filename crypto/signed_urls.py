"""Signed, expiring download URLs for attachments (no API key needed to follow one)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time


def _key(master_key: bytes) -> bytes:
    return hmac.new(master_key, b"postflow-signed-urls", hashlib.sha256).digest()


def sign(master_key: bytes, resource: str, expires_at: int) -> str:
    mac = hmac.new(_key(master_key), f"{resource}:{expires_at}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def verify(master_key: bytes, resource: str, expires_at: int, signature: str, now: float | None = None) -> bool:
    if expires_at < (time.time() if now is None else now):
        return False
    # Bytes, not str: compare_digest refuses non-ASCII strings, and a URL can carry anything.
    expected = sign(master_key, resource, expires_at).encode()
    return hmac.compare_digest(expected, signature.encode("utf-8", "surrogateescape"))
