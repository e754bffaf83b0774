"""Search and deliverability tools through the official SDK client."""

from __future__ import annotations

import asyncio

import httpx

from tests.conftest import Tenant, create_inbox
from tests.helpers.smtp import send_raw, simple_message
from tests.mcp.conftest import key_with, sdk_session


async def test_sdk_search_finds_mail_delivered_over_smtp(api: httpx.AsyncClient, tenant: Tenant, worker, ingress) -> None:
    inbox = await create_inbox(api, tenant, local_part="mcp-search")
    await send_raw(ingress.port, "ann@example.com", [inbox["address"]],
                   simple_message(inbox["address"], subject="Quarterly zeppelin budget", body="numbers attached"))
    key = await key_with(api, tenant, "mcp.access", "mail.read")
    async with sdk_session(str(api.base_url), key) as session:
        for _ in range(100):
            found = await session.call_tool("search_mail", {"q": "zeppelin", "mode": "keyword", "inbox_id": inbox["id"]})
            assert found.is_error is False, found.content
            if found.structured_content["data"]:
                break
            await asyncio.sleep(0.2)
        bad = await session.call_tool("search_mail", {"q": ""})
    assert found.structured_content["data"][0]["subject"] == "Quarterly zeppelin budget"
    assert bad.is_error is True and "q" in bad.content[0].text


async def test_sdk_delivery_health_and_suppression_lookup(api: httpx.AsyncClient, tenant: Tenant) -> None:
    r = await api.post("/v1/delivery/suppressions", json={"address": "gone@example.com", "reason": "manual"},
                       headers=tenant.headers)  # fmt: skip
    assert r.status_code in (200, 201), r.text
    key = await key_with(api, tenant, "mcp.access", "analytics.read")
    async with sdk_session(str(api.base_url), key) as session:
        health = await session.call_tool("delivery_health", {"days": 7})
        hit = await session.call_tool("lookup_suppression", {"address": "gone@example.com"})
        miss = await session.call_tool("lookup_suppression", {"address": "here@example.com"})
    assert health.is_error is False and health.structured_content["period_days"] == 7
    assert hit.structured_content["suppressed"] is True and hit.structured_content["suppression"]["reason"] == "manual"
    assert miss.structured_content["suppressed"] is False
