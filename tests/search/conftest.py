"""Helpers for the search tests: delivering mail over SMTP and waiting until it is indexed."""

from __future__ import annotations

import email
import email.policy
import uuid
from email.message import EmailMessage
from typing import Any

from httpx import AsyncClient

from tests.conftest import Tenant
from tests.helpers.eventually import eventually
from tests.helpers.smtp import send_raw


def mail(to: str, subject: str, body: str, *, sender: str = "bob@example.com", name: str = "Bob",
         html: str | None = None, attachments: list[tuple[str, str, bytes]] | None = None) -> bytes:  # fmt: skip
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = f"{name} <{sender}>", to, subject
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@example.com>"
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for filename, ctype, data in attachments or []:
        maintype, subtype = ctype.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


async def indexed(sessionmaker: Any, message_id: str) -> dict[str, Any]:
    """The message's `analysis.indexing` once the pipeline's indexing step has run."""
    from store.models import Message

    async def probe() -> dict[str, Any] | None:
        async with sessionmaker() as session:
            msg = await session.get(Message, message_id)
            return (msg.analysis or {}).get("indexing") if msg is not None else None

    return await eventually(probe, timeout=60, interval=0.1)


async def deliver(api: AsyncClient, t: Tenant, ingress: Any, sessionmaker: Any, inbox: dict[str, Any],
                  raws: list[bytes]) -> list[str]:  # fmt: skip
    """Send each message over SMTP; wait until all are indexed; their ids in sending order."""
    for raw in raws:
        await send_raw(ingress.port, "sender@example.com", [inbox["address"]], raw)
    subjects = [str(email.message_from_bytes(raw, policy=email.policy.default)["subject"]) for raw in raws]

    async def all_listed() -> list[dict[str, Any]] | None:
        r = await api.get(f"/v1/inboxes/{inbox['id']}/messages?limit=100", headers=t.headers)
        data = r.json()["data"]
        return data if len(data) >= len(raws) else None

    listed = await eventually(all_listed, timeout=60)
    by_subject = {m["subject"]: m["id"] for m in listed}
    ids = [by_subject[s] for s in subjects]
    for mid in ids:
        await indexed(sessionmaker, mid)
    return ids

