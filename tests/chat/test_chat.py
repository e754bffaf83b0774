"""The agent chat against the real API, worker and Temporal, with the LLM replaced by the local
OpenAI-compatible server: read-only tools run at once, side effects wait for confirmation."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.chat.conftest import call, settled
from tests.conftest import Tenant, create_inbox
from tests.helpers.llm_server import LLMServer
from tests.helpers.smtp import send_raw, simple_message


async def key_for(api: httpx.AsyncClient, t: Tenant, *scopes: str) -> Tenant:
    r = await api.post("/v1/api-keys", json={"name": "chat", "scopes": list(scopes)}, headers=t.headers)
    assert r.status_code == 201, r.text
    return Tenant(org_id=t.org_id, key=r.json()["api_key"])


async def delivered(api: httpx.AsyncClient, t: Tenant, ingress: Any, inbox: dict[str, Any]) -> str:
    await send_raw(ingress.port, "bob@example.com", [inbox["address"]],
                   simple_message(inbox["address"], subject="invoice 42", body="please pay"))  # fmt: skip
    for _ in range(100):
        r = await api.get(f"/v1/inboxes/{inbox['id']}/messages", headers=t.headers)
        if r.json()["data"]:
            return r.json()["data"][0]["id"]  # type: ignore[no-any-return]
        await asyncio.sleep(0.1)
    raise AssertionError("the message did not arrive")


async def start(api: httpx.AsyncClient, t: Tenant, inbox_id: str, message: str, **extra: Any) -> str:
    r = await api.post("/v1/chat", json={"inbox_id": inbox_id, "message": message, **extra}, headers=t.headers)
    assert r.status_code == 202, r.text
    assert r.json()["workflow_id"] == f"AgentRun/{r.json()['run_id']}"
    return r.json()["run_id"]  # type: ignore[no-any-return]


async def labels_of(api: httpx.AsyncClient, t: Tenant, message_id: str) -> list[str]:
    r = await api.get(f"/v1/messages/{message_id}", headers=t.headers)
    return r.json()["labels"]  # type: ignore[no-any-return]


async def test_chat_read_only_tool_runs_at_once(chat_api: httpx.AsyncClient, chat_worker: Any,
                                                tenant: Tenant, script: LLMServer) -> None:  # fmt: skip
    inbox = await create_inbox(chat_api, tenant, local_part="chat-ro")
    script.script(call("list_inboxes", {}), {"content": "You have one inbox."})
    run_id = await start(chat_api, tenant, inbox["id"], "Which inboxes do I have?")
    body = await settled(chat_api, tenant, run_id, status="idle")
    roles = [t["role"] for t in body["turns"]]
    assert roles == ["user", "assistant", "tool", "assistant"]
    assert body["turns"][2]["is_error"] is False and inbox["address"] in body["turns"][2]["content"]
    assert body["turns"][3]["content"] == "You have one inbox."
    assert body["tool_calls"][0]["name"] == "list_inboxes" and body["pending_actions"] == []
    # the model saw the tool result and only the tools the key may use
    second = script.requests[1]
    assert second["messages"][-1]["role"] == "tool"
    assert "list_inboxes" in {t["function"]["name"] for t in second["tools"]}


async def test_chat_side_effect_waits_for_confirmation_then_runs(
    chat_api: httpx.AsyncClient, chat_worker: Any, worker: Any, ingress: Any, tenant: Tenant, script: LLMServer
) -> None:
    inbox = await create_inbox(chat_api, tenant, local_part="chat-confirm")
    msg_id = await delivered(chat_api, tenant, ingress, inbox)
    script.script(call("label_message", {"message_id": msg_id, "add_labels": ["billing"]}), {"content": "Labelled."})
    run_id = await start(chat_api, tenant, inbox["id"], "Label the invoice as billing")
    body = await settled(chat_api, tenant, run_id, status="awaiting_confirmation")
    [action] = body["pending_actions"]
    assert action["tool"] == "label_message" and action["status"] == "pending"
    assert "billing" not in await labels_of(chat_api, tenant, msg_id)  # nothing happened yet

    r = await chat_api.post(f"/v1/chat/{run_id}/confirm", json={"action_id": action["id"]}, headers=tenant.headers)
    assert r.status_code == 200 and r.json()["status"] == "confirmed", r.text
    body = await settled(chat_api, tenant, run_id, status="idle")
    assert body["actions"][0]["status"] == "executed"
    assert "billing" in await labels_of(chat_api, tenant, msg_id)
    assert body["turns"][-1]["content"] == "Labelled."
    again = await chat_api.post(f"/v1/chat/{run_id}/confirm", json={"action_id": action["id"]}, headers=tenant.headers)
    assert again.status_code == 409 and again.json()["details"][0]["field"] == "action_id"  # decided once
    unknown = await chat_api.post(f"/v1/chat/{run_id}/reject", json={"action_id": "act_99"}, headers=tenant.headers)
    assert unknown.status_code == 404
    events = (await chat_api.get("/v1/events", params={"type": "agent.action"}, headers=tenant.headers)).json()
    statuses = [e["data"]["status"] for e in events["data"] if e["data"]["run_id"] == run_id]
    assert statuses == ["proposed", "confirmed", "executed"]


async def test_chat_rejected_action_does_nothing(
    chat_api: httpx.AsyncClient, chat_worker: Any, worker: Any, ingress: Any, tenant: Tenant, script: LLMServer
) -> None:
    inbox = await create_inbox(chat_api, tenant, local_part="chat-reject")
    msg_id = await delivered(chat_api, tenant, ingress, inbox)
    script.script(call("delete_message", {"message_id": msg_id}), {"content": "Understood, kept it."})
    run_id = await start(chat_api, tenant, inbox["id"], "Delete the invoice")
    body = await settled(chat_api, tenant, run_id, status="awaiting_confirmation")
    action_id = body["pending_actions"][0]["id"]
    r = await chat_api.post(f"/v1/chat/{run_id}/reject", json={"action_id": action_id}, headers=tenant.headers)
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    body = await settled(chat_api, tenant, run_id, status="idle")
    assert (await chat_api.get(f"/v1/messages/{msg_id}", headers=tenant.headers)).status_code == 200
    tool_turn = next(t for t in body["turns"] if t["role"] == "tool")
    assert tool_turn["is_error"] and "action_rejected" in tool_turn["content"]
    assert body["actions"][0]["status"] == "rejected"


async def test_chat_key_cannot_act_beyond_its_scopes(
    chat_api: httpx.AsyncClient, chat_worker: Any, worker: Any, ingress: Any, tenant: Tenant, script: LLMServer
) -> None:
    inbox = await create_inbox(chat_api, tenant, local_part="chat-scope")
    msg_id = await delivered(chat_api, tenant, ingress, inbox)
    reader = await key_for(chat_api, tenant, "agent.run", "mail.read")
    script.script(
        {"tool_calls": [{"name": "delete_message", "arguments": {"message_id": msg_id}},
                        {"name": "no_such_tool", "arguments": {}},
                        {"name": "read_message", "arguments": "{not json"},
                        {"name": "read_message", "arguments": {"message_id": 7, "extra": 1}}]},
        {"content": "I cannot do that."},
    )  # fmt: skip
    run_id = await start(chat_api, reader, inbox["id"], "Delete everything")
    body = await settled(chat_api, reader, run_id, status="idle")
    tool_turns = [t for t in body["turns"] if t["role"] == "tool"]
    assert len(tool_turns) == 4 and all(t["is_error"] for t in tool_turns)
    assert "forbidden" in tool_turns[0]["content"] and "unknown tool" in tool_turns[1]["content"]
    assert "not valid JSON" in tool_turns[2]["content"] and "validation_error" in tool_turns[3]["content"]
    assert body["actions"] == [] and body["pending_actions"] == []
    assert (await chat_api.get(f"/v1/messages/{msg_id}", headers=tenant.headers)).status_code == 200
    # the model was never offered the tool the key lacks the scope for
    assert "delete_message" not in {t["function"]["name"] for t in script.requests[0]["tools"]}


async def test_chat_looping_model_is_stopped(chat_api: httpx.AsyncClient, chat_worker: Any,
                                             tenant: Tenant, script: LLMServer) -> None:  # fmt: skip
    inbox = await create_inbox(chat_api, tenant, local_part="chat-loop")
    script.default = call("list_inboxes", {"limit": 5})
    try:
        run_id = await start(chat_api, tenant, inbox["id"], "loop forever")
        body = await settled(chat_api, tenant, run_id, status="idle")
    finally:
        script.default = None
    assert body["turns"][-1]["role"] == "error" and "repeating" in body["turns"][-1]["content"]
    assert body["steps"] == 3


async def test_chat_continues_a_conversation_and_isolates_tenants(
    chat_api: httpx.AsyncClient, chat_worker: Any, tenant: Tenant, other_tenant: Tenant, script: LLMServer
) -> None:
    inbox = await create_inbox(chat_api, tenant, local_part="chat-more")
    script.script({"content": "Hello."}, {"content": "Still here."})
    run_id = await start(chat_api, tenant, inbox["id"], "hi")
    await settled(chat_api, tenant, run_id, status="idle")
    r = await chat_api.post("/v1/chat", json={"inbox_id": inbox["id"], "message": "again", "conversation_id": run_id},
                            headers=tenant.headers)  # fmt: skip
    assert r.status_code == 202 and r.json()["run_id"] == run_id and r.json()["continued"] is True
    body = await settled(chat_api, tenant, run_id, after=2, status="idle")
    assert [t["content"] for t in body["turns"]] == ["again", "Still here."]
    assert (await chat_api.get(f"/v1/chat/{run_id}", headers=other_tenant.headers)).status_code == 404
    r = await chat_api.post(f"/v1/chat/{run_id}/confirm", json={"action_id": "act_1"}, headers=other_tenant.headers)
    assert r.status_code == 404


async def test_chat_bad_input_is_a_4xx(chat_api: httpx.AsyncClient, tenant: Tenant, api: httpx.AsyncClient) -> None:
    r = await chat_api.post("/v1/chat", json={"inbox_id": "inb_nope", "message": "x"}, headers=tenant.headers)
    assert r.status_code == 404
    r = await chat_api.post("/v1/chat", json={"message": "x"}, headers=tenant.headers)
    assert r.status_code == 400 and r.json()["details"][0]["field"] == "inbox_id"
    inbox = await create_inbox(api, tenant, local_part="chat-nollm")
    r = await api.post("/v1/chat", json={"inbox_id": inbox["id"], "message": "x"}, headers=tenant.headers)
    assert r.status_code == 503 and r.json()["code"] == "llm_not_configured"
    reader = await key_for(chat_api, tenant, "mail.read")
    r = await chat_api.post("/v1/chat", json={"inbox_id": inbox["id"], "message": "x"}, headers=reader.headers)
    assert r.status_code == 403


async def test_chat_stops_at_max_steps_and_token_budget(chat_api: httpx.AsyncClient, chat_worker: Any,
                                                        tenant: Tenant, script: LLMServer) -> None:  # fmt: skip
    inbox = await create_inbox(chat_api, tenant, local_part="chat-limits")
    script.script(*[call("list_inboxes", {"limit": n}) for n in (1, 2, 3)])
    run_id = await start(chat_api, tenant, inbox["id"], "keep going", max_steps=2)
    body = await settled(chat_api, tenant, run_id, status="idle")
    assert body["steps"] == 2 and body["turns"][-1] == {**body["turns"][-1], "role": "error"}
    assert "maximum of 2 steps" in body["turns"][-1]["content"]

    script.reset()
    script.script({**call("list_inboxes", {}), "completion_tokens": 500}, {"content": "never asked"})
    run_id = await start(chat_api, tenant, inbox["id"], "spend", token_budget=100)
    body = await settled(chat_api, tenant, run_id, status="idle")
    assert body["steps"] == 1 and body["tokens_used"] >= 500
    assert "token budget" in body["turns"][-1]["content"] and len(script.requests) == 1


async def test_chat_action_of_a_revoked_key_does_not_run(
    chat_api: httpx.AsyncClient, chat_worker: Any, tenant: Tenant, script: LLMServer
) -> None:
    inbox = await create_inbox(chat_api, tenant, local_part="chat-revoked")
    r = await chat_api.post("/v1/api-keys", json={"name": "temp", "scopes": ["agent.run", "inboxes.manage"]},
                            headers=tenant.headers)  # fmt: skip
    temp = Tenant(org_id=tenant.org_id, key=r.json()["api_key"])
    script.script(call("create_inbox", {"name": "from a revoked key"}), {"content": "It failed."})
    run_id = await start(chat_api, temp, inbox["id"], "make an inbox")
    body = await settled(chat_api, temp, run_id, status="awaiting_confirmation")
    assert (await chat_api.delete(f"/v1/api-keys/{r.json()['id']}", headers=tenant.headers)).status_code == 200
    r = await chat_api.post(f"/v1/chat/{run_id}/confirm", json={"action_id": body["pending_actions"][0]["id"]},
                            headers=tenant.headers)  # an admin of the org may decide  # fmt: skip
    assert r.status_code == 200, r.text
    body = await settled(chat_api, tenant, run_id, status="idle")
    assert body["actions"][0]["status"] == "failed" and "revoked" in str(body["actions"][0]["result"])
    names = [i["name"] for i in (await chat_api.get("/v1/inboxes", headers=tenant.headers)).json()["data"]]
    assert "from a revoked key" not in names
