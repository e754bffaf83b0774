"""Writing a parsed message (from `mailparse`) onto its row, idempotently under retry."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.base import new_id
from store.models import Attachment, Message

if TYPE_CHECKING:
    from mailparse.parse import Address, ParsedMessage

SNIPPET_LEN = 200


def _addr(a: Address) -> dict[str, str]:
    return {"name": a.name, "email": a.email}


@dataclass
class ParsedFields:
    message_id_header: str | None
    in_reply_to: str | None
    references: list[str]
    subject: str
    from_address: str
    from_name: str
    to: list[dict[str, str]]
    cc: list[dict[str, str]]
    reply_to: list[dict[str, str]]
    sent_at: datetime | None
    headers: list[list[str]]
    text: str | None
    html: str | None
    stripped_text: str | None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)

    @classmethod
    def from_parsed(cls, p: ParsedMessage) -> ParsedFields:
        return cls(
            message_id_header=p.message_id,
            in_reply_to=p.in_reply_to,
            references=list(p.references),
            subject=p.subject,
            from_address=p.from_.email if p.from_ else "",
            from_name=p.from_.name if p.from_ else "",
            to=[_addr(a) for a in p.to],
            cc=[_addr(a) for a in p.cc],
            reply_to=[_addr(a) for a in p.reply_to],
            sent_at=p.date,
            headers=[[k, v] for k, v in p.headers],
            text=p.text,
            html=p.html,
            stripped_text=p.stripped_text,
            attachments=[
                {
                    "filename": a.filename,
                    "content_type": a.content_type,
                    "size": a.size,
                    "sha256": a.sha256,
                    "content_id": a.content_id,
                    "inline": a.inline,
                }
                for a in p.attachments
            ],
            defects=list(p.defects),
        )


def snippet_of(text: str | None) -> str:
    return " ".join((text or "").split())[:SNIPPET_LEN]


async def store_parsed(session: AsyncSession, message_id: str, f: ParsedFields) -> Message:
    msg = await session.scalar(select(Message).where(Message.id == message_id))
    assert msg is not None
    # Strings are cut to the column sizes: a hostile header must not fail the pipeline.
    msg.message_id_header = (f.message_id_header or "")[:998] or None
    msg.in_reply_to = (f.in_reply_to or "")[:998] or None
    msg.references = [r[:998] for r in f.references[:100]]
    msg.subject = f.subject
    msg.from_address = f.from_address[:320]
    msg.from_name = f.from_name[:300]
    msg.to, msg.cc, msg.reply_to = f.to, f.cc, f.reply_to
    msg.sent_at = f.sent_at
    msg.headers = f.headers
    msg.text, msg.html, msg.stripped_text = f.text, f.html, f.stripped_text
    msg.snippet = snippet_of(f.stripped_text or f.text)
    msg.has_attachments = any(not a["inline"] for a in f.attachments)
    msg.analysis = {**msg.analysis, "defects": f.defects}
    # Replace, not append: a retried activity must not duplicate attachments.
    await session.execute(delete(Attachment).where(Attachment.message_id == message_id))
    for a in f.attachments:
        session.add(
            Attachment(
                id=new_id("att"),
                org_id=msg.org_id,
                message_id=message_id,
                filename=a["filename"][:255],
                content_type=a["content_type"][:255],
                size=a["size"],
                sha256=a["sha256"],
                content_id=(a["content_id"] or "")[:998] or None,
                inline=a["inline"],
            )
        )
    return msg
