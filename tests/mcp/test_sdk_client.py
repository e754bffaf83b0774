"""The official `mcp` SDK client (a client we did not write) against the real API over HTTP."""

from __future__ import annotations

import asyncio

import httpx
from mcp import Client

from tests.conftest import Tenant, create_inbox
from tests.helpers.smtp import send_raw, simple_message
from tests.mcp.conftest import key_with, sdk_session


async def test_sdk_connects_and_lists_tools_by_scope(api: httpx.AsyncClient, tenant: Tenant) -> None:
    key = await key_with(api, tenant, "mcp.access", "mail.read")
    async with sdk_session(str(api.base_url), key) as session:
        tools = {t.name: t for t in (await session.list_tools()).tools}
    assert {"list_inboxes", "read_message", "wait_for_otp"} <= set(tools)
    assert "create_inbox" not in tools and "label_message" not in tools  # scopes the key lacks
    assert tools["read_message"].annotations.read_only_hint is True
    assert tools["read_message"].input_schema["required"] == ["message_id"]


async def test_sdk_reads_mail_it_lists(api: httpx.AsyncClient, tenant: Tenant, worker, ingress) -> None:
    inbox = await create_inbox(api, tenant, local_part="mcp-read")
    await send_raw(ingress.port, "bob@example.com", [inbox["address"]],
                   simple_message(inbox["address"], subject="hello mcp", body="hi there"))
    key = await key_with(api, tenant, "mcp.access", "mail.read")
    async with sdk_session(str(api.base_url), key) as session:
        listed = await session.call_tool("list_inboxes", {})
        assert listed.is_error is False
        assert [i["address"] for i in listed.structured_content["data"]] == [inbox["address"]]
        for _ in range(100):
            page = await session.call_tool("list_messages", {"inbox_id": inbox["id"]})
            if page.structured_content["data"]:
                break
            await asyncio.sleep(0.1)
        msg_id = page.structured_content["data"][0]["id"]
        read = await session.call_tool("read_message", {"message_id": msg_id})
    assert read.is_error is False and read.structured_content["subject"] == "hello mcp"


async def test_sdk_waits_for_otp_arriving_over_smtp_during_the_call(
    api: httpx.AsyncClient, tenant: Tenant, worker, ingress
) -> None:
    inbox = await create_inbox(api, tenant, local_part="mcp-otp")
    key = await key_with(api, tenant, "mcp.access", "mail.read")

    async def deliver_later() -> None:
        await asyncio.sleep(1.5)
        await send_raw(ingress.port, "noreply@service.example", [inbox["address"]],
                       simple_message(inbox["address"], subject="Your code", body="Your code is 482913"))

    async with sdk_session(str(api.base_url), key) as session:
        sender = asyncio.create_task(deliver_later())
        result = await session.call_tool("wait_for_otp", {"inbox_id": inbox["id"], "timeout_seconds": 60})
        await sender
    assert result.is_error is False, result.content
    assert result.structured_content["code"] == "482913"


async def test_sdk_stateless_2026_client_discovers_and_calls(api: httpx.AsyncClient, tenant: Tenant) -> None:
    inbox = await create_inbox(api, tenant, local_part="mcp-modern")
    key = await key_with(api, tenant, "mcp.access", "mail.read")
    from mcp.shared._httpx_utils import create_mcp_http_client
    from mcp.client.streamable_http import streamable_http_client

    http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
    async with http, Client(streamable_http_client(f"{api.base_url}/mcp", http_client=http), mode="auto") as client:
        assert client.protocol_version == "2026-07-28"
        tools = await client.list_tools()
        listed = await client.call_tool("list_inboxes", {})
    assert "list_inboxes" in {t.name for t in tools.tools}
    assert [i["id"] for i in listed.structured_content["data"]] == [inbox["id"]]
