"""A real SMTP server on loopback standing in for a smarthost or a recipient MX (aiosmtpd,
after Mailman's SMTPLayer). It records what it accepted and can be scripted to answer
RCPT or DATA with given replies (421/451/550 ...) for successive attempts, per recipient.
"""

from __future__ import annotations

import socket
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> Message:
        return message_from_bytes(self.data, policy=default)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:  # fmt: skip
        key = address.lower()
        with self.sink.lock:
            self.sink.rcpt_attempts[key] += 1
            queue = self.sink.rcpt_replies.get(key)
            reply = queue.pop(0) if queue else None
        if reply and not reply.startswith("250"):
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.sink.lock:
            reply = self.sink.data_replies.pop(0) if self.sink.data_replies else None
        if reply and not reply.startswith("250"):
            return reply
        received = Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
        with self.sink.lock:
            self.sink.accepted.append(received)
        if self.sink.on_accept is not None:
            self.sink.on_accept(received)
        return "250 2.0.0 queued"


class SmtpSink:
    """`with SmtpSink() as sink:`; `sink.port`; `sink.script_rcpt("a@x", "451 4.3.0 later")`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted: list[Received] = []
        self.rcpt_attempts: Counter[str] = Counter()
        self.rcpt_replies: dict[str, list[str]] = {}
        self.data_replies: list[str] = []
        # Called (on the sink's thread) after a message is accepted, before the 250 is sent.
        self.on_accept: Callable[[Received], None] | None = None
        self.port = _free_port()
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port,
                                      ready_timeout=10)  # fmt: skip

    def script_rcpt(self, address: str, *replies: str) -> None:
        """Replies to the next RCPTs of `address`, in order; afterwards it is accepted."""
        with self.lock:
            self.rcpt_replies.setdefault(address.lower(), []).extend(replies)

    def script_data(self, *replies: str) -> None:
        with self.lock:
            self.data_replies.extend(replies)

    def for_rcpt(self, address: str) -> list[Received]:
        with self.lock:
            return [r for r in self.accepted if address.lower() in (t.lower() for t in r.rcpt_tos)]

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
