"""aiosmtpd handler: recipient policy at RCPT, durable storage at DATA.

Order at DATA (DESIGN "Inbound"): raw bytes to the blob store (fsynced) and one message row
per recipient inbox in one transaction → commit → `250` → hand-off to Temporal. Any storage
failure answers `451` so the sender retries: mail is never accepted and then lost.
"""

from __future__ import annotations

import asyncio
import logging
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from email.utils import getaddresses
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ingress import replies
from ingress.handoff import Handoff
from settings import Settings
from store import inboxes, messages
from store.blobs import BlobStore
from store.models import Inbox

log = logging.getLogger("postflow.ingress")


def _split_address(address: str) -> tuple[str, str] | None:
    local, sep, domain = address.strip().strip("<>").rpartition("@")
    if not sep or not local or not domain:
        return None
    return local, domain.lower()


def peek_headers(raw: bytes) -> dict[str, Any]:
    """Subject/From/Message-ID for the row, so mail is listable before the pipeline parses it.

    Never raises: hostile headers only cost the preview, the pipeline parses properly.
    """
    try:
        head = raw[:65536]
        msg = BytesHeaderParser(policy=default_policy).parsebytes(head)
        subject = " ".join(str(msg.get("subject", "") or "").split())
        name, email = next(iter(getaddresses([str(msg.get("from", "") or "")])), ("", ""))
        mid = str(msg.get("message-id", "") or "").strip().strip("<>") or None
        return {
            "subject": subject[:2000],
            "from_address": email[:320],
            "from_name": name[:300],
            "message_id_header": mid[:998] if mid else None,
        }
    except Exception:
        return {}


class IngressHandler:
    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        blobs: BlobStore,
        handoff: Handoff,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.blobs = blobs
        self.handoff = handoff

    async def handle_RCPT(  # noqa: N802 (aiosmtpd hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        targets: dict[str, str] = envelope.__dict__.setdefault("postflow_inboxes", {})
        if len(envelope.rcpt_tos) >= self.settings.max_recipients:
            return replies.TOO_MANY_RECIPIENTS
        parts = _split_address(address)
        if parts is None:
            return replies.BAD_ADDRESS
        try:
            async with self.sessionmaker() as db:
                if not await inboxes.is_local_domain(db, parts[1]):
                    return replies.RELAY_DENIED
                inbox = await inboxes.find_by_address(db, f"{parts[0]}@{parts[1]}")
        except Exception:
            log.exception("recipient lookup failed")
            return replies.TEMPORARY_FAILURE
        if inbox is None:
            return replies.UNKNOWN_USER
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        targets[inbox.id] = address
        return replies.RCPT_OK

    async def handle_DATA(  # noqa: N802 (aiosmtpd hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        targets: dict[str, str] = envelope.__dict__.get("postflow_inboxes", {})
        if not targets:
            return replies.NO_VALID_RECIPIENTS
        raw = envelope.original_content or b""
        try:
            message_ids = await self._store(raw, session, envelope, targets)
        except Exception:
            log.exception("storing inbound mail failed; answering 451")
            return replies.TEMPORARY_FAILURE
        if message_ids:
            self.handoff.start_soon(message_ids)
        return replies.OK.format(",".join(message_ids) or "nothing")

    async def _store(
        self, raw: bytes, session: Session, envelope: Envelope, targets: dict[str, str]
    ) -> list[str]:
        sha = await asyncio.to_thread(self.blobs.put, raw)
        peek = peek_headers(raw)
        ids: list[str] = []
        async with self.sessionmaker.begin() as db:
            for inbox_id, rcpt in targets.items():
                inbox = await db.get(Inbox, inbox_id)
                if inbox is None:  # deleted between RCPT and DATA
                    continue
                env = messages.InboundEnvelope(
                    raw_sha256=sha,
                    size=len(raw),
                    envelope_from=(envelope.mail_from or "")[:320],
                    envelope_to=[rcpt],
                    client_ip=str(session.peer[0])[:64] if session.peer else None,
                    helo=(session.host_name or "")[:255] or None,
                    **peek,
                )
                ids.append(messages.insert_inbound(db, inbox, env).id)
        return ids

