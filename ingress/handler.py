"""aiosmtpd handler: recipient policy at RCPT, durable storage at DATA.

Order at DATA (DESIGN "Inbound"): raw bytes to the blob store (fsynced) and one message row
per recipient inbox in one transaction → commit → `250` → hand-off to Temporal. Any storage
failure answers `451` so the sender retries: mail is never accepted and then lost.
"""

from __future__ import annotations

import logging

from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ingress import acceptance, replies
from ingress.early_wake import EarlyWake
from ingress.handoff import Handoff
from ingress.recipients import Recipient, RecipientCache
from settings import Settings
from outbound.policy import ReceivePolicy
from store import delivery_reports, inboxes
from store.blobs import BlobStore

log = logging.getLogger("postflow.ingress")


def _split_address(address: str) -> tuple[str, str] | None:
    local, sep, domain = address.strip().strip("<>").rpartition("@")
    if not sep or not local or not domain:
        return None
    return local, domain.lower()


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
        self.recipients = RecipientCache()
        self.early_wake = EarlyWake(sessionmaker, handoff.temporal)
        self.readonly = sessionmaker  # server.py binds an autocommit one: RCPT only reads
        self.receive_policy = ReceivePolicy()  # receive allow/block lists, cached like recipients

    async def handle_RCPT(  # noqa: N802 (aiosmtpd hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        targets: dict[str, str] = envelope.__dict__.setdefault("postflow_inboxes", {})
        if len(envelope.rcpt_tos) >= self.settings.max_recipients:
            return replies.TOO_MANY_RECIPIENTS
        parts = _split_address(address)
        if parts is None:
            return replies.BAD_ADDRESS
        key = f"{parts[0]}@{parts[1]}".lower()
        try:
            # A session connects on its first statement: a cached recipient costs no lookup.
            async with self.readonly() as db:
                inbox = self.recipients.get(key)
                if inbox is None:
                    if not await inboxes.is_local_domain(db, parts[1]):
                        return replies.RELAY_DENIED
                    found = await inboxes.find_by_address(db, key)
                    if found is not None:
                        inbox = Recipient(inbox_id=found.id, org_id=found.org_id)
                        self.recipients.put(key, inbox)
                    # A bounce to a VERP return path goes to the sending inbox (not cached:
                    # such addresses are one-off).
                    elif (verp := await delivery_reports.verp_inbox(db, address)) is not None:
                        inbox = Recipient(inbox_id=verp.id, org_id=verp.org_id)
                # Receive block/allow lists: refused in the session (no storage, no backscatter).
                if inbox is not None and not await self.receive_policy.allows(
                    db, inbox.org_id, inbox.inbox_id, envelope.mail_from or ""
                ):
                    return replies.SENDER_BLOCKED
        except Exception:
            log.exception("recipient lookup failed")
            return replies.TEMPORARY_FAILURE
        if inbox is None:
            return replies.UNKNOWN_USER
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        targets[inbox.inbox_id] = address
        return replies.RCPT_OK

    async def handle_DATA(  # noqa: N802 (aiosmtpd hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        targets: dict[str, str] = envelope.__dict__.get("postflow_inboxes", {})
        if not targets:
            return replies.NO_VALID_RECIPIENTS
        raw = envelope.original_content or b""
        env = acceptance.Envelope(
            mail_from=envelope.mail_from or "", targets=targets,
            client_ip=str(session.peer[0]) if session.peer else None, helo=session.host_name,
        )  # fmt: skip
        try:
            rows = await acceptance.accept_rows(self.sessionmaker, self.blobs, raw, env)
        except Exception:
            log.exception("storing inbound mail failed; answering 451")
            return replies.TEMPORARY_FAILURE
        message_ids = [r.message_id for r in rows]
        if message_ids:
            self.handoff.start_soon(message_ids)
            self.early_wake.wake_soon(raw, rows)
        return replies.OK.format(",".join(message_ids) or "nothing")
