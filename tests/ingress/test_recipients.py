"""The RCPT-time recipient cache never changes what the ingress answers: an inbox created a
moment after a 550 is reachable at once (no negative caching), and mail to an inbox deleted
while it is still cached is not stored for it. Real ingress, PostgreSQL and SMTP."""

from __future__ import annotations

import uuid
from typing import Any

import aiosmtplib
import pytest
from httpx import AsyncClient

from tests.conftest import Tenant, create_inbox
from tests.helpers.smtp import send_raw, simple_message
from tests.ingress.test_ingress import message_rows


async def test_inbox_created_after_a_550_is_accepted_at_once(
    api: AsyncClient, tenant: Tenant, ingress: Any
) -> None:
    local = f"late-{uuid.uuid4().hex[:6]}"
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as exc:
        await send_raw(ingress.port, "a@example.com", [f"{local}@postflow.local"], simple_message("x"))
    assert exc.value.recipients[0].code == 550
    inbox = await create_inbox(api, tenant, local_part=local)
    _, reply = await send_raw(ingress.port, "a@example.com", [inbox["address"]],
                              simple_message(inbox["address"]))  # fmt: skip
    assert reply.startswith("2.0.0 OK: queued as msg_")


async def test_inbox_deleted_while_cached_gets_no_message(
    api: AsyncClient, tenant: Tenant, ingress: Any, sessionmaker: Any
) -> None:
    keep, gone = await create_inbox(api, tenant), await create_inbox(api, tenant)
    for inbox in (keep, gone):  # both recipients are now in the cache
        await send_raw(ingress.port, "a@example.com", [inbox["address"]],
                       simple_message(inbox["address"]))  # fmt: skip
    assert (await api.delete(f"/v1/inboxes/{gone['id']}", headers=tenant.headers)).status_code == 204
    # RCPT still says 250 for the cached address; DATA stores only for the inbox that exists.
    _, reply = await send_raw(ingress.port, "a@example.com", [keep["address"], gone["address"]],
                              simple_message(keep["address"], subject="after delete"))  # fmt: skip
    stored = reply.rsplit(" ", 1)[-1].split(",")
    assert len(stored) == 1 and stored[0].startswith("msg_"), reply
    assert stored[0] in {m.id for m in await message_rows(sessionmaker, keep["id"])}
    assert await message_rows(sessionmaker, gone["id"]) == []
