"""SMTP hand-off to a relay or a recipient's MX with aiosmtplib, one transaction per call, with
a per-recipient outcome: `accepted` (250 to DATA), `deferred` (4xx, timeouts, refused
connections), `failed` (5xx) or `in_doubt` (the connection broke after the message data was
sent, so the server may have accepted it). No retries here: the OutboundMail workflow owns them.

`before_data` runs after the server accepted the recipients and right before the data is
sent; the caller records those recipients as in flight there, so a worker that dies at any
point after it never sends to them again (at most once inside that window, RFC 1047).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import aiosmtplib

Kind = Literal["accepted", "deferred", "failed", "in_doubt"]
Security = Literal["starttls", "tls", "none"]


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    security: Security = "starttls"  # starttls: used when offered (opportunistic for MXes)
    username: str | None = None
    password: str | None = None
    require_tls: bool = False
    verify_certs: bool = True
    # Connect to this checked address instead of resolving `host` again (outbound/smtp_egress.py);
    # TLS still verifies `host`.
    connect_ip: str | None = None


@dataclass(frozen=True)
class Outcome:
    kind: Kind
    code: int
    message: str


def parse_relay_url(url: str) -> SmtpTarget:
    """`smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://host:465` (implicit TLS)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("relay URL must be smtp://[user:pass@]host[:port] or smtps://...")
    tls = parts.scheme == "smtps"
    return SmtpTarget(
        host=parts.hostname, port=parts.port or (465 if tls else 587),
        security="tls" if tls else "starttls",
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )  # fmt: skip


_CONTEXTS: dict[bool, ssl.SSLContext] = {}


def _tls_context(verify: bool) -> ssl.SSLContext:
    """One context per verification mode: loading the CA store costs ~0.1 s of CPU each time."""
    ctx = _CONTEXTS.get(verify)
    if ctx is None:
        ctx = ssl.create_default_context()
        if not verify:
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        _CONTEXTS[verify] = ctx
    return ctx


async def _socket_to(ip: str, port: int, timeout: float) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, (ip, port)), timeout)
    except BaseException:
        sock.close()
        raise
    return sock


async def connect(target: SmtpTarget, *, timeout: float, helo: str | None = None) -> aiosmtplib.SMTP:
    """A connected client: implicit TLS, or STARTTLS when offered (required if `require_tls`).
    A pinned target (`connect_ip`) is reached at that address only."""
    kw: dict[str, Any] = dict(
        hostname=target.host, local_hostname=helo, timeout=timeout,
        use_tls=target.security == "tls", tls_context=_tls_context(target.verify_certs),
        start_tls=(None if not target.require_tls else True) if target.security == "starttls" else False,
    )  # fmt: skip
    if target.connect_ip is None:
        client = aiosmtplib.SMTP(port=target.port, **kw)
    else:
        client = aiosmtplib.SMTP(sock=await _socket_to(target.connect_ip, target.port, timeout), **kw)
    try:
        await client.connect()
    except BaseException:
        client.close()
        raise
    return client


def classify(code: int) -> Kind:
    if 200 <= code < 300:
        return "accepted"
    return "failed" if 500 <= code < 600 else "deferred"


def _all(rcpts: list[str], kind: Kind, code: int, message: str) -> dict[str, Outcome]:
    return {r: Outcome(kind, code, message[:500]) for r in rcpts}


async def deliver(
    target: SmtpTarget,
    mail_from: str,
    rcpts: list[str],
    raw: bytes,
    *,
    helo: str,
    timeout: float,
    before_data: Callable[[list[str]], Awaitable[None]],
) -> dict[str, Outcome]:
    """One SMTP transaction; returns an outcome for every recipient."""
    client: aiosmtplib.SMTP | None = None
    try:
        try:
            client = await connect(target, timeout=timeout, helo=helo)
            if target.username:
                await client.login(target.username, target.password or "")
            await client.mail(mail_from)
        except aiosmtplib.SMTPResponseException as exc:
            return _all(rcpts, classify(exc.code), exc.code, exc.message)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return _all(rcpts, "deferred", 0, f"{type(exc).__name__}: {exc}")
        outcomes: dict[str, Outcome] = {}
        accepted: list[str] = []
        for rcpt in rcpts:
            try:
                await client.rcpt(rcpt)
                accepted.append(rcpt)
            except aiosmtplib.SMTPResponseException as exc:
                outcomes[rcpt] = Outcome(classify(exc.code), exc.code, exc.message[:500])
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                outcomes[rcpt] = Outcome("deferred", 0, f"{type(exc).__name__}: {exc}"[:500])
        if not accepted:
            return outcomes
        await before_data(accepted)
        try:
            response = await client.data(raw)
            outcomes.update(_all(accepted, "accepted", response.code, response.message))
        except aiosmtplib.SMTPResponseException as exc:  # a clean refusal of the data
            outcomes.update(_all(accepted, classify(exc.code), exc.code, exc.message))
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            # The data went out but no reply came: the server may have queued it.
            outcomes.update(_all(accepted, "in_doubt", 0, f"{type(exc).__name__}: {exc}"))
        return outcomes
    finally:
        try:
            if client is not None and client.is_connected:
                await client.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            client.close()
