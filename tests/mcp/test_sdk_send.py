"""Sending through MCP with the official SDK client: the send passes the outbound approval gate
and goes out only after a human with `mail.approve` confirms it."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import Tenant, create_inbox
from tests.mcp.conftest import key_with, sdk_session


async def _delivery(api: httpx.AsyncClient, t: Tenant, message_id: str, status: str) -> dict:
    for _ in range(150):
        r = await api.get(f"/v1/messages/{message_id}/delivery", headers=t.headers)
        assert r.status_code == 200, r.text
        if r.json()["status"] == status:
            return r.json()  # type: ignore[no-any-return]
        await asyncio.sleep(0.1)
    raise AssertionError(f"{message_id} never reached {status}: {r.json()['status']}")


async def test_sdk_send_waits_for_confirmation_then_goes_out(
    api: httpx.AsyncClient, tenant: Tenant, worker
) -> None:
    inbox = await create_inbox(api, tenant, local_part="mcp-send")
    r = await api.put(f"/v1/inboxes/{inbox['id']}/send-settings", json={"require_approval": True},
                      headers=tenant.headers)  # fmt: skip
    assert r.status_code == 200, r.text
    key = await key_with(api, tenant, "mcp.access", "mail.send", "mail.read")
    async with sdk_session(str(api.base_url), key) as session:
        names = {t.name for t in (await session.list_tools()).tools}
        assert {"send_message", "reply", "forward"} <= names
        bad = await session.call_tool("send_message", {"inbox_id": inbox["id"], "to": "not an address", "text": "x"})
        assert bad.is_error is True and "to" in bad.content[0].text
        sent = await session.call_tool("send_message", {"inbox_id": inbox["id"], "to": "carol@example.com",
                                                        "subject": "Quote", "text": "Here it is"})  # fmt: skip
    assert sent.is_error is False, sent.content
    message_id = sent.structured_content["id"]
    held = await _delivery(api, tenant, message_id, "awaiting_approval")
    assert held["requires_approval"] is True
    r = await api.post(f"/v1/messages/{message_id}/approve", headers=tenant.headers)  # the operator's key
    assert r.status_code == 200, r.text
    done = await _delivery(api, tenant, message_id, "captured")  # the dev transport keeps it
    assert done["approval_state"] == "approved" and done["message"]["subject"] == "Quote"
