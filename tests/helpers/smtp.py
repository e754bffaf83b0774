"""Sending mail to the ingress over loopback with a real SMTP client (aiosmtplib)."""

from __future__ import annotations

import aiosmtplib


async def send_raw(
    port: int, mail_from: str, rcpt_to: list[str], raw: bytes, host: str = "127.0.0.1"
) -> tuple[dict[str, tuple[int, str]], str]:
    """Send `raw` as-is; returns aiosmtplib's (rejected recipients, final response)."""
    return await aiosmtplib.send(
        raw, sender=mail_from, recipients=rcpt_to, hostname=host, port=port, timeout=30
    )


def simple_message(
    to: str, subject: str = "hello", body: str = "hi", sender: str = "bob@example.com", mid: str | None = None
) -> bytes:
    headers = [f"From: Bob <{sender}>", f"To: {to}", f"Subject: {subject}"]
    if mid:
        headers.append(f"Message-ID: <{mid}>")
    return ("\r\n".join(headers) + "\r\n\r\n" + body + "\r\n").encode()
