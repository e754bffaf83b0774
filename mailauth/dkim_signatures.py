"""DKIM verification of every DKIM-Signature (RFC 6376) with dkimpy, keys fetched by our resolver.

dkimpy is synchronous and would do its own DNS, so keys are fetched first with the async
resolver and dkimpy runs in a worker thread with a `dnsfunc` that only serves those answers:
no lookup here ever leaves `Resolver`. Nothing raises; every outcome is a result word.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

import dkim
from dkim.util import InvalidTagValueList, parse_tag_value

from mailauth.resolver import Resolver, TempError

_SIGNATURE_FIELD = re.compile(rb"^dkim-signature[ \t]*:", re.IGNORECASE | re.MULTILINE)
# The order in which per-signature outcomes summarise the message when none passed: a retry
# could still pass after a temperror, and a cryptographic failure says more than a bad key.
_PRECEDENCE = ("pass", "temperror", "fail", "permerror")
# RFC 6376 §6.1 lets verifiers cap the work a message can demand; each signature costs a lookup.
MAX_SIGNATURES = 10


@dataclass(frozen=True)
class SignatureResult:
    domain: str  # d=, lower-case ("" when the signature had none)
    selector: str
    result: str  # pass | fail | temperror | permerror


@dataclass(frozen=True)
class DkimResult:
    result: str  # pass | fail | none | temperror | permerror
    signatures: tuple[SignatureResult, ...]

    @property
    def passing_domains(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.domain for s in self.signatures if s.result == "pass"))


@dataclass
class _Pending:
    """A signature between parsing and verification: its key name and, later, its key."""

    index: int
    domain: str
    selector: str
    error: str | None = None  # a result decided before verification (permerror/temperror)
    key: str | None = None


async def verify_signatures(raw: bytes, resolver: Resolver) -> DkimResult:
    """Verify every DKIM-Signature on `raw`; "pass" if any one passes."""
    parsed = await asyncio.to_thread(_parse, raw)
    if parsed is None:
        malformed = _SIGNATURE_FIELD.search(raw) is not None
        return DkimResult("permerror" if malformed else "none", ())
    message, pending = parsed
    if not pending:
        return DkimResult("none", ())
    await _fetch_keys(pending, resolver)
    results = await asyncio.to_thread(_verify_all, message, pending)
    outcome = next(word for word in _PRECEDENCE if word in {r.result for r in results})
    return DkimResult(outcome, tuple(results))


def _parse(raw: bytes) -> tuple[dkim.DKIM, list[_Pending]] | None:
    try:
        message = dkim.DKIM(raw)
    except Exception:  # dkimpy raises assorted errors on malformed mail
        return None
    fields = [value for name, value in message.headers if name.lower() == b"dkim-signature"]
    fields = fields[:MAX_SIGNATURES]  # topmost first: the most recently added signatures
    return message, [_parse_signature(index, value) for index, value in enumerate(fields)]


def _parse_signature(index: int, value: bytes) -> _Pending:
    try:
        tags = parse_tag_value(value)
    except InvalidTagValueList:
        return _Pending(index, "", "", error="permerror")
    domain = _ascii(tags.get(b"d", b"")).lower().rstrip(".")
    selector = _ascii(tags.get(b"s", b"")).lower()
    pending = _Pending(index, domain, selector)
    try:
        dkim.validate_signature_fields(tags)
    except dkim.DKIMException:
        pending.error = "permerror"  # missing tags, bad base64, expired: RFC 6376 PERMFAIL
    if not domain or not selector:
        pending.error = "permerror"
    return pending


async def _fetch_keys(pending: list[_Pending], resolver: Resolver) -> None:
    async def fetch(signature: _Pending) -> None:
        try:
            records = await resolver.txt(f"{signature.selector}._domainkey.{signature.domain}")
        except TempError:
            signature.error = "temperror"
            return
        if records:
            signature.key = records[0]  # several key records are ambiguous; dkimpy uses the first
        else:
            signature.error = "permerror"  # no key for the selector (RFC 6376 §6.1.2)

    await asyncio.gather(*(fetch(s) for s in pending if s.error is None))


def _verify_all(message: dkim.DKIM, pending: list[_Pending]) -> list[SignatureResult]:
    return [
        SignatureResult(s.domain, s.selector, s.error or _verify_one(message, s)) for s in pending
    ]


def _verify_one(message: dkim.DKIM, signature: _Pending) -> str:
    assert signature.key is not None
    key = signature.key.encode()
    try:
        # dkimpy's verify() turns key problems into a plain False; checking the key first
        # keeps "bad key record" (permerror) apart from "signature does not verify" (fail).
        dkim.evaluate_pk(b"", key)
    except Exception:  # KeyFormatError, binascii.Error, missing PyNaCl, ...
        return "permerror"

    def dnsfunc(name: bytes | str, timeout: float = 5) -> bytes:
        return key  # only this signature's prefetched key is ever asked for

    try:
        return "pass" if message.verify(idx=signature.index, dnsfunc=dnsfunc) else "fail"
    except dkim.ValidationError:
        return "fail"  # body hash mismatch (the tags were validated before the key fetch)
    except Exception:  # malformed canonicalization, key too small, ...
        return "permerror"


def _ascii(value: bytes) -> str:
    return value.decode("ascii", "replace")
