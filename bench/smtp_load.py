"""The SMTP client side of the benchmarks: realistic ~2 KB messages and a small load generator.

The client speaks SMTP one command at a time (no PIPELINING) over asyncio streams, so it costs
little CPU, and the very same code drives the baselines and Postflow's ingress.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime

from bench.harness import SENDER_DOMAIN

FROM = f"noreply@{SENDER_DOMAIN}"

_TEXT = (
    "Hi there,\r\n\r\nHere is what happened in your Acme workspace this week. Three new members "
    "joined the\r\nproject, twelve tasks were completed and two reviews are waiting for you. "
    "The release\r\ntrain leaves on Thursday; please make sure your changes are merged by then.\r\n"
    "\r\nIf you did not expect this message you can ignore it, or change how often we write\r\n"
    "to you in your notification settings.\r\n\r\nThanks,\r\nThe Acme team\r\n\r\n--\r\n"
    "Acme Inc., 1 Example Way, Springfield. You receive this summary because you are a member\r\n"
    "of a workspace on Acme. Manage notifications: https://sender.bench.test/settings/notify\r\n"
)


class SmtpError(RuntimeError):
    pass


def make_message(rcpt: str, seq: int, *, otp: str | None = None) -> bytes:
    """A unique multipart/alternative message of about 2 KB (unique, so every blob is new)."""
    token = uuid.uuid4().hex
    now = format_datetime(datetime.now(UTC))
    if otp:
        subject, lead = (
            "Your Acme verification code",
            f"Your code is {otp}. It expires in 10 minutes.\r\n\r\n",
        )
    else:
        subject, lead = f"Your Acme weekly summary #{seq}", ""
    text = lead + _TEXT + f"\r\nRef {token}\r\n"
    html = (
        "<html><body><p>"
        + lead.strip()
        + "</p><p>"
        + _TEXT.replace("\r\n\r\n", "</p><p>").replace("\r\n", " ")
        + f'</p><p style="color:#888">Ref {token}</p></body></html>\r\n'
    )
    boundary = f"b-{token[:16]}"
    head = [
        f"Received: from mail.{SENDER_DOMAIN} (mail.{SENDER_DOMAIN} [127.0.0.1]) by bench; {now}",
        f"From: Acme <{FROM}>",
        f"To: <{rcpt}>",
        f"Subject: {subject}",
        f"Date: {now}",
        f"Message-ID: <{seq}.{token}@{SENDER_DOMAIN}>",
        "MIME-Version: 1.0",
        f"List-Unsubscribe: <https://{SENDER_DOMAIN}/unsubscribe/{token}>",
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
    ]
    body = [
        f"--{boundary}",
        "Content-Type: text/plain; charset=utf-8",
        "",
        text,
        f"--{boundary}",
        "Content-Type: text/html; charset=utf-8",
        "",
        html,
        f"--{boundary}--",
        "",
    ]
    raw = "\r\n".join(head) + "\r\n\r\n" + "\r\n".join(body)
    # Dot-stuffing, once, at generation time.
    return raw.replace("\r\n.", "\r\n..").encode()


class Conn:
    """One SMTP connection; `send` returns the final reply code and text of one transaction."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int, within: float = 30) -> Conn:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), within)
        conn = cls(reader, writer)
        await conn._expect(220)
        await conn.command(b"EHLO bench.client", 250)
        return conn

    async def reply(self) -> tuple[int, str]:
        lines = []
        while True:
            line = await self.reader.readline()
            if not line:
                raise SmtpError("connection closed by server")
            lines.append(line[4:].decode(errors="replace").strip())
            if line[3:4] != b"-":
                return int(line[:3]), " ".join(lines)

    async def _expect(self, code: int) -> str:
        got, text = await self.reply()
        if got != code:
            raise SmtpError(f"expected {code}, got {got} {text}")
        return text

    async def command(self, line: bytes, expect: int) -> str:
        self.writer.write(line + b"\r\n")
        return await self._expect(expect)

    async def send(self, mail_from: str, rcpt: str, data: bytes) -> tuple[int, str]:
        for line in (f"MAIL FROM:<{mail_from}>".encode(), f"RCPT TO:<{rcpt}>".encode()):
            self.writer.write(line + b"\r\n")
            code, text = await self.reply()
            if code != 250:
                await self.command(b"RSET", 250)
                return code, text
        await self.command(b"DATA", 354)
        self.writer.write(data if data.endswith(b"\r\n") else data + b"\r\n")
        self.writer.write(b".\r\n")
        return await self.reply()

    async def close(self) -> None:
        try:
            self.writer.write(b"QUIT\r\n")
            await asyncio.wait_for(self.reply(), 5)
        except (OSError, SmtpError, TimeoutError):
            pass
        self.writer.close()


@dataclass
class LoadResult:
    sent: int = 0
    ok: int = 0
    elapsed: float = 0.0
    codes: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    capped: bool = False

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0


def for_rcpt(rcpts: list[str], n: int, start: int = 0) -> list[tuple[str, bytes]]:
    """`n` unique messages, addressed round-robin to `rcpts`."""
    return [
        (rcpts[i % len(rcpts)], make_message(rcpts[i % len(rcpts)], start + i)) for i in range(n)
    ]


async def run_load(
    port: int,
    messages: list[tuple[str, bytes]],
    *,
    clients: int = 8,
    per_connection: bool = False,
    within: float = 120,
    max_seconds: float | None = None,
) -> LoadResult:
    """Send every (recipient, message) with `clients` concurrent clients; each keeps one
    connection open for many messages, or opens one per message (`per_connection`).

    With `max_seconds`, clients take no new message after that long (`capped` is then set)."""
    result = LoadResult()
    queue = iter(messages)
    t0 = time.perf_counter()
    stop_at = t0 + max_seconds if max_seconds else float("inf")

    async def client() -> None:
        conn = None
        for rcpt, data in queue:
            if time.perf_counter() >= stop_at:
                result.capped = True
                break
            try:
                conn = conn or await Conn.open(port)
                code, text = await conn.send(FROM, rcpt, data)
                result.sent += 1
                result.codes[str(code)] += 1
                result.ok += code == 250
                if per_connection:
                    await conn.close()
                    conn = None
            except (OSError, SmtpError, TimeoutError) as exc:
                result.errors.append(f"{type(exc).__name__}: {exc}")
                if conn is not None:
                    conn.writer.close()
                conn = None
                if len(result.errors) > 50:
                    raise SmtpError(f"too many SMTP errors, last: {exc}") from exc
        if conn is not None:
            await conn.close()

    await asyncio.wait_for(asyncio.gather(*(client() for _ in range(clients))), within)
    result.elapsed = time.perf_counter() - t0
    return result
