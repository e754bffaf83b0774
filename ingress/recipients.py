"""Recipient lookups at RCPT time, cached for a few seconds.

Only positive answers are cached: an inbox created a moment ago must never get a `550`. An
inbox deleted while it is cached is still accepted at RCPT, but DATA inserts the message by
selecting the inbox row itself, so a deleted inbox gets no message (acceptance.py). Each
ingress replica has its own cache; nothing needs invalidating across processes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

TTL_SECONDS = 5.0
MAX_ENTRIES = 20_000


@dataclass(frozen=True)
class Recipient:
    inbox_id: str
    org_id: str


class RecipientCache:
    def __init__(self, ttl: float = TTL_SECONDS, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Recipient]] = {}

    def get(self, address: str) -> Recipient | None:
        found = self._entries.get(address)
        if found is None:
            return None
        if found[0] < time.monotonic():
            self._entries.pop(address, None)
            return None
        return found[1]

    def put(self, address: str, recipient: Recipient) -> None:
        if len(self._entries) >= self.max_entries:
            now = time.monotonic()
            self._entries = {a: e for a, e in self._entries.items() if e[0] >= now}
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
        self._entries[address] = (time.monotonic() + self.ttl, recipient)
