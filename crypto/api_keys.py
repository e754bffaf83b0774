"""API key secrets: generation and hashing. The secret is shown once and only its hash is kept."""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_PREFIX = "pf_"
DISPLAY_PREFIX_LEN = 11


def generate_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def display_prefix(key: str) -> str:
    return key[:DISPLAY_PREFIX_LEN]


def hashes_match(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)
