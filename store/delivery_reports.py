"""Finding the outbound message a bounce or complaint is about, inside one organization:
by Postflow's VERP return path (`bounces+{msg_id}-{local}={domain}@…`) or by the original's
Message-ID. Also routes VERP addresses at the ingress to the inbox that sent the message."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mailparse.reports import parse_verp
from store.models import Inbox, Message


async def outbound_by_id(session: AsyncSession, org_id: str, message_id: str) -> Message | None:
    return await session.scalar(
        select(Message).where(
            Message.id == message_id.lower(), Message.org_id == org_id,
            Message.direction == "outbound",
        )  # fmt: skip
    )


async def outbound_by_header(
    session: AsyncSession, org_id: str, message_id_header: str
) -> Message | None:
    """The newest outbound message of the org with this Message-ID (stored with or without
    angle brackets)."""
    bare = message_id_header.strip().strip("<>").strip()
    if not bare:
        return None
    return await session.scalar(
        select(Message)
        .where(
            Message.org_id == org_id, Message.direction == "outbound",
            Message.message_id_header.in_([bare, f"<{bare}>"]),
        )  # fmt: skip
        .order_by(Message.id.desc())
        .limit(1)
    )


async def verp_inbox(session: AsyncSession, address: str) -> Inbox | None:
    """The inbox that sent the message a VERP address names (for the ingress's RCPT)."""
    parsed = parse_verp(address)
    if parsed is None:
        return None
    row = await session.execute(
        select(Inbox)
        .join(Message, Message.inbox_id == Inbox.id)
        .where(Message.id == parsed[0].lower(), Message.direction == "outbound")
    )
    return row.scalars().first()
