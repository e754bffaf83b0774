"""Durable acceptance of one message for some local inboxes: the step both the SMTP ingress
and internal (agent-to-agent, local outbound) delivery go through.

The raw bytes go to the blob store (fsynced) and one message row per inbox is written in one
transaction; the caller hands the returned ids to Temporal only after this returned.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ingress.peek import peek_headers
from store import messages
from store.blobs import BlobStore


@dataclass(frozen=True)
class Envelope:
    mail_from: str
    # inbox id -> the recipient address it was reached by
    targets: dict[str, str]
    client_ip: str | None = None
    helo: str | None = None


async def accept(
    sessionmaker: async_sessionmaker[AsyncSession], blobs: BlobStore, raw: bytes, env: Envelope
) -> list[str]:
    """Store `raw` for every target inbox that still exists; returns the new message ids."""
    return [row.message_id for row in await accept_rows(sessionmaker, blobs, raw, env)]


async def accept_rows(
    sessionmaker: async_sessionmaker[AsyncSession], blobs: BlobStore, raw: bytes, env: Envelope
) -> list[messages.Inserted]:
    """`accept`, returning the stored rows (id, org, inbox, received_at, active waits)."""
    sha = await asyncio.to_thread(blobs.put, raw)
    peek = peek_headers(raw)
    ids: list[messages.Inserted] = []
    async with sessionmaker.begin() as db:
        for inbox_id, rcpt in env.targets.items():
            row = messages.InboundEnvelope(
                raw_sha256=sha, size=len(raw), envelope_from=env.mail_from[:320],
                envelope_to=[rcpt], client_ip=(env.client_ip or "")[:64] or None,
                helo=(env.helo or "")[:255] or None, **peek,
            )  # fmt: skip
            # One statement per inbox; None when the inbox was deleted between RCPT and DATA.
            if (inserted := await messages.insert_inbound_core(db, inbox_id, row)) is not None:
                ids.append(inserted)
    return ids
