"""Agents against the real processes: api, worker and ingress as separate OS processes (as
docker-compose runs them), the official `mcp` SDK client over HTTP, mail over SMTP to the
ingress process, and the agent chat with its LLM replaced by the local OpenAI-compatible
server. The same behaviours are tested in depth in tests/mcp and tests/chat in-process."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from settings import Settings
from tests.helpers.llm_server import LLMServer
from tests.helpers.processes import listen_port, service_env, spawn, stop, wait_http, wait_port
from tests.helpers.smtp import send_raw, simple_message
from tests.mcp.conftest import sdk_session


@dataclass
class Deployment:
    http: httpx.AsyncClient
    base: str
    smtp_port: int
    headers: dict[str, str]
    chat_answers: list[dict[str, Any]]


def _llm_answer(chat_answers: list[dict[str, Any]]) -> Any:
    """Chat turns (requests that offer tools) get the test's answers in order; the pipeline's
    own LLM steps (summary, injection check, extraction) get harmless answers."""

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        if body.get("tools"):
            return chat_answers.pop(0) if chat_answers else {"content": "Done."}
        system = str(body["messages"][0].get("content") or "")
        if "security filter" in system:
            return {"content": json.dumps({"score": 0.0, "reasons": []})}
        return {"content": "A short message."}

    return answer


@pytest.fixture
async def deployment(settings: Settings, superadmin_key: str, tmp_path: Path) -> AsyncIterator[Deployment]:
    chat_answers: list[dict[str, Any]] = []
    api_port, smtp_port = listen_port(), listen_port()
    with LLMServer(default=_llm_answer(chat_answers)) as llm:
        env = service_env(settings, tmp_path / "data", api_port, smtp_port,
                          POSTFLOW_LLM_MODEL="openai/scripted", POSTFLOW_LLM_API_BASE=llm.base_url,
                          POSTFLOW_LLM_API_KEY="test-key")  # fmt: skip
        procs = [spawn(name, env, tmp_path / f"{name}.log") for name in ("api", "worker", "ingress")]
        try:
            base = f"http://127.0.0.1:{api_port}"
            await asyncio.to_thread(wait_http, f"{base}/health", procs)
            await asyncio.to_thread(wait_port, smtp_port)
            async with httpx.AsyncClient(base_url=base, timeout=60) as http:
                su = {"Authorization": f"Bearer {superadmin_key}"}
                org = (await http.post("/v1/orgs", json={"name": "Agents E2E"}, headers=su)).json()
                yield Deployment(http, base, smtp_port, {"Authorization": f"Bearer {org['api_key']}"},
                                 chat_answers)  # fmt: skip
        finally:
            codes = stop(procs)
        assert codes == [0, 0, 0], [(p.args[-1], c) for p, c in zip(procs, codes, strict=True)]


async def _inbox(d: Deployment, local_part: str) -> dict[str, Any]:
    r = await d.http.post("/v1/inboxes", json={"local_part": f"{local_part}-{uuid.uuid4().hex[:6]}"},
                          headers=d.headers)  # fmt: skip
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def _key(d: Deployment, *scopes: str) -> str:
    r = await d.http.post("/v1/api-keys", json={"name": "agent", "scopes": list(scopes)}, headers=d.headers)
    assert r.status_code == 201, r.text
    return r.json()["api_key"]  # type: ignore[no-any-return]


async def test_mcp_sdk_client_waits_for_an_otp_and_sends_through_the_processes(deployment: Deployment) -> None:
    d = deployment
    inbox = await _inbox(d, "mcp-e2e")
    key = await _key(d, "mcp.access", "mail.read", "mail.send")

    async def deliver_later() -> None:
        await asyncio.sleep(1.5)
        raw = simple_message(inbox["address"], subject="Your code", body="Your sign-in code is 739214")
        await send_raw(d.smtp_port, "noreply@service.example", [inbox["address"]], raw)

    async with sdk_session(d.base, key) as session:
        tools = {t.name for t in (await session.list_tools()).tools}
        assert {"wait_for_otp", "send_message", "search_mail"} <= tools
        sender = asyncio.create_task(deliver_later())
        otp = await session.call_tool("wait_for_otp", {"inbox_id": inbox["id"], "timeout_seconds": 90})
        await sender
        sent = await session.call_tool("send_message", {
            "inbox_id": inbox["id"], "to": "carol@example.com", "subject": "Hi", "text": "Hello Carol"})
    assert otp.is_error is False, otp.content
    assert otp.structured_content["code"] == "739214"
    assert sent.is_error is False, sent.content
    message_id = sent.structured_content["id"]
    for _ in range(300):
        status = (await d.http.get(f"/v1/messages/{message_id}/delivery", headers=d.headers)).json()["status"]
        if status == "captured":
            break
        await asyncio.sleep(0.1)
    assert status == "captured"


async def test_chat_send_waits_for_confirmation_across_the_processes(deployment: Deployment) -> None:
    d = deployment
    inbox = await _inbox(d, "chat-e2e")
    args = {"inbox_id": inbox["id"], "to": "dana@example.com", "subject": "Hello", "text": "Hi Dana"}
    d.chat_answers.extend([{"tool_calls": [{"name": "send_message", "arguments": args}]},
                           {"content": "Sent."}])  # fmt: skip
    r = await d.http.post("/v1/chat", json={"inbox_id": inbox["id"], "message": "Say hi to Dana"},
                          headers=d.headers)  # fmt: skip
    assert r.status_code == 202, r.text
    run_id = r.json()["run_id"]

    async def settled(status: str) -> dict[str, Any]:
        for _ in range(30):
            body = (await d.http.get(f"/v1/chat/{run_id}", params={"wait": 10}, headers=d.headers)).json()
            if body["status"] == status:
                return body  # type: ignore[no-any-return]
            await asyncio.sleep(0.1)
        raise AssertionError(f"run {run_id} never reached {status}: {body}")

    body = await settled("awaiting_confirmation")
    assert body["pending_actions"][0]["arguments"] == args
    outbound = await d.http.get(f"/v1/inboxes/{inbox['id']}/messages", params={"direction": "outbound"},
                                headers=d.headers)  # fmt: skip
    assert outbound.json()["data"] == []  # nothing composed before the confirmation
    r = await d.http.post(f"/v1/chat/{run_id}/confirm", json={"action_id": body["pending_actions"][0]["id"]},
                          headers=d.headers)  # fmt: skip
    assert r.status_code == 200, r.text
    body = await settled("idle")
    assert body["actions"][0]["status"] == "executed", body["actions"]
    message_id = body["actions"][0]["result"]["id"]
    for _ in range(300):
        status = (await d.http.get(f"/v1/messages/{message_id}/delivery", headers=d.headers)).json()["status"]
        if status == "captured":
            break
        await asyncio.sleep(0.1)
    assert status == "captured"
