"""POSTing to a user-supplied URL without letting it reach what it must not.

Every request resolves the host afresh, refuses unsafe addresses (egress.policy) and then
connects to an address it checked (the next one if it is unreachable), never to the name:
the URL handed to httpx carries the IP, the Host header carries the name and, for https, the
`sni_hostname` extension makes TLS send and verify the certificate against the name. A second
resolution inside the HTTP stack, which a rebinding DNS server could answer differently,
therefore never happens. Redirects are not followed, environment proxies are ignored, the
whole exchange has one deadline and at most `max_body_bytes` of the response are read.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

import httpx

from egress.policy import IPAddress, Target, allowed_networks, check_addresses, parse_target
from egress.resolve import Resolve, ResolveError, resolver_for
from settings import Settings

ErrorKind = Literal["dns", "connect", "timeout", "tls", "protocol"]


class EgressError(Exception):
    """The request did not produce a response (worth retrying later)."""

    def __init__(self, kind: ErrorKind, message: str, latency_ms: int) -> None:
        super().__init__(message)
        self.kind = kind
        self.latency_ms = latency_ms


@dataclass(frozen=True)
class EgressResponse:
    status_code: int
    headers: httpx.Headers
    body: bytes  # at most max_body_bytes
    latency_ms: int
    address: str  # the IP connected to


async def post(
    url: str,
    *,
    body: bytes,
    headers: Mapping[str, str],
    settings: Settings,
    timeout: float | None = None,  # noqa: ASYNC109 (one deadline for DNS, connect and reply)
    max_body_bytes: int = 2048,
    resolve: Resolve | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> EgressResponse:
    """POST `body` to `url`. Raises UnsafeTarget (refused, nothing sent) or EgressError."""
    target = parse_target(url, settings)
    allow = allowed_networks(settings)
    deadline = settings.webhook_timeout_seconds if timeout is None else timeout
    started = time.monotonic()

    def elapsed_ms() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        async with asyncio.timeout(deadline):
            if target.ip is not None:
                addresses = [target.ip]
            else:
                resolved = await (resolve or resolver_for(settings))(target.host)
                addresses = check_addresses(target, resolved, allow)
            for index, ip in enumerate(addresses):
                try:
                    status, response_headers, received = await _send(
                        target, ip, body, headers, deadline, max_body_bytes, ssl_context
                    )
                    break
                except httpx.ConnectError as exc:
                    # Unreachable (say, IPv6 without a route): the host's next checked address.
                    if index == len(addresses) - 1 or _is_tls(exc):
                        raise
    except TimeoutError as exc:
        raise EgressError("timeout", f"no response within {deadline:g}s", elapsed_ms()) from exc
    except ResolveError as exc:
        raise EgressError("dns", str(exc), elapsed_ms()) from exc
    except httpx.TimeoutException as exc:
        raise EgressError("timeout", f"timed out: {exc}", elapsed_ms()) from exc
    except httpx.ConnectError as exc:
        kind: ErrorKind = "tls" if _is_tls(exc) else "connect"
        raise EgressError(kind, f"cannot connect: {exc}", elapsed_ms()) from exc
    except httpx.HTTPError as exc:
        raise EgressError("protocol", f"{exc.__class__.__name__}: {exc}", elapsed_ms()) from exc
    return EgressResponse(
        status_code=status, headers=response_headers, body=received, latency_ms=elapsed_ms(),
        address=str(ip),
    )  # fmt: skip


async def _send(
    target: Target, ip: IPAddress, body: bytes, headers: Mapping[str, str], deadline: float,
    max_body_bytes: int, ssl_context: ssl.SSLContext | None,
) -> tuple[int, httpx.Headers, bytes]:  # fmt: skip
    """One request to the checked address `ip`, presenting the target's name."""
    extensions = {}
    if target.ip is None and target.url.scheme == "https":
        extensions["sni_hostname"] = target.host  # TLS verifies the certificate for the name
    # identity: the capped body is stored as text, and a compressed one would not be.
    request_headers = {"Accept-Encoding": "identity", **headers, "Host": target.host_header}
    # A client per request: a pooled connection pinned to one name's address must never carry
    # a request for another name.
    async with httpx.AsyncClient(
        verify=ssl_context or _default_ssl_context(), trust_env=False, follow_redirects=False,
        timeout=deadline,
    ) as client:  # fmt: skip
        request = client.build_request(
            "POST", target.url.copy_with(host=str(ip)), content=body, headers=request_headers,
            extensions=extensions,
        )  # fmt: skip
        response = await client.send(request, stream=True)
        try:
            received = await _read_capped(response, max_body_bytes)
            return response.status_code, response.headers, received
        finally:
            await response.aclose()


def _is_tls(exc: httpx.ConnectError) -> bool:
    return isinstance(exc.__cause__, ssl.SSLError) or "SSL" in str(exc)


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle costs tens of milliseconds: once per process, not per request.
    return httpx.create_ssl_context()


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    data = b""
    async for chunk in response.aiter_raw():
        data += chunk[: limit - len(data)]
        if len(data) >= limit:
            break
    return data


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a `Retry-After` header asks to wait (delta-seconds or an HTTP date); None when
    absent or unparseable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
