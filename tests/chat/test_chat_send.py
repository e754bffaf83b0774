"""Sending from the agent chat: a pending action until the operator confirms, and then still
subject to the outbound approval gate of the inbox."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.chat.conftest import call, settled
from tests.chat.test_chat import start
from tests.conftest import Tenant, create_inbox
from tests.helpers.llm_server import LLMServer


async def _status(api: httpx.AsyncClient, t: Tenant, message_id: str, want: str) -> dict[str, Any]:
    for _ in range(150):
        body = (await api.get(f"/v1/messages/{message_id}/delivery", headers=t.headers)).json()
        if body["status"] == want:
            return body  # type: ignore[no-any-return]
        await asyncio.sleep(0.1)
    raise AssertionError(f"{message_id}: {body['status']} != {want}")


async def test_chat_send_runs_only_after_confirmation(chat_api: httpx.AsyncClient, chat_worker: Any,
                                                      tenant: Tenant, script: LLMServer) -> None:  # fmt: skip
    inbox = await create_inbox(chat_api, tenant, local_part="chat-send")
    args = {"inbox_id": inbox["id"], "to": "dana@example.com", "subject": "Hello", "text": "Hi Dana"}
    script.script(call("send_message", args), {"content": "Sent."})
    run_id = await start(chat_api, tenant, inbox["id"], "Say hi to Dana")
    body = await settled(chat_api, tenant, run_id, status="awaiting_confirmation")
    assert body["pending_actions"][0]["arguments"] == args
    outbound = await chat_api.get(f"/v1/inboxes/{inbox['id']}/messages", params={"direction": "outbound"},
                                  headers=tenant.headers)  # fmt: skip
    assert outbound.json()["data"] == []  # nothing composed before confirmation
    r = await chat_api.post(f"/v1/chat/{run_id}/confirm", json={"action_id": body["pending_actions"][0]["id"]},
                            headers=tenant.headers)  # fmt: skip
    assert r.status_code == 200, r.text
    body = await settled(chat_api, tenant, run_id, status="idle")
    action = body["actions"][0]
    assert action["status"] == "executed", action
    sent = await _status(chat_api, tenant, action["result"]["id"], "captured")
    assert sent["message"]["subject"] == "Hello"


async def test_chat_confirmed_send_still_passes_the_approval_gate(
    chat_api: httpx.AsyncClient, chat_worker: Any, tenant: Tenant, script: LLMServer
) -> None:
    inbox = await create_inbox(chat_api, tenant, local_part="chat-gated")
    r = await chat_api.put(f"/v1/inboxes/{inbox['id']}/send-settings", json={"require_approval": True},
                           headers=tenant.headers)  # fmt: skip
    assert r.status_code == 200
    script.script(call("send_message", {"inbox_id": inbox["id"], "to": "eve@example.com", "text": "x"}),
                  {"content": "Queued for approval."})  # fmt: skip
    run_id = await start(chat_api, tenant, inbox["id"], "write to Eve")
    body = await settled(chat_api, tenant, run_id, status="awaiting_confirmation")
    await chat_api.post(f"/v1/chat/{run_id}/confirm", json={"action_id": body["pending_actions"][0]["id"]},
                        headers=tenant.headers)  # fmt: skip
    body = await settled(chat_api, tenant, run_id, status="idle")
    held = await _status(chat_api, tenant, body["actions"][0]["result"]["id"], "awaiting_approval")
    assert held["requires_approval"] is True


async def test_chat_auto_approve_needs_inbox_setting_and_scope(
    chat_api: httpx.AsyncClient, chat_worker: Any, tenant: Tenant, script: LLMServer
) -> None:
    inbox = await create_inbox(chat_api, tenant, local_part="chat-auto")
    r = await chat_api.put(f"/v1/inboxes/{inbox['id']}/agent-settings", json={"auto_approve": True},
                           headers=tenant.headers)  # fmt: skip
    assert r.status_code == 200
    r = await chat_api.post("/v1/api-keys", headers=tenant.headers, json={
        "name": "no-auto", "scopes": ["agent.run", "mail.read", "inboxes.manage"]})
    plain = Tenant(org_id=tenant.org_id, key=r.json()["api_key"])
    script.script(call("create_inbox", {"name": "made by agent"}), {"content": "Waiting."})
    run_id = await start(chat_api, plain, inbox["id"], "make an inbox")
    body = await settled(chat_api, plain, run_id, status="awaiting_confirmation")  # key lacks agent.auto_approve
    assert body["pending_actions"][0]["tool"] == "create_inbox"
    await chat_api.post(f"/v1/chat/{run_id}/reject", json={"action_id": body["pending_actions"][0]["id"]},
                        headers=plain.headers)  # fmt: skip
    await settled(chat_api, plain, run_id, status="idle")

    script.script(call("create_inbox", {"name": "auto inbox"}), {"content": "Created."})
    run_id = await start(chat_api, tenant, inbox["id"], "make an inbox")  # the admin key holds every scope
    body = await settled(chat_api, tenant, run_id, status="idle")
    assert body["actions"][0]["auto_approved"] is True and body["actions"][0]["status"] == "executed"
    names = [i["name"] for i in (await chat_api.get("/v1/inboxes", headers=tenant.headers)).json()["data"]]
    assert "auto inbox" in names and "made by agent" not in names
