"""The MCP sending tools (send_message, reply, forward) take exactly the REST contracts
(contracts/sending.py) — their input schemas are generated from them, so they cannot drift —
and tell the model that a send may be held for approval, and how the result says so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import BaseModel

from api.mcp.send_tools import SEND_TOOLS
from contracts.sending import ForwardRequest, ReplyRequest, SendRequest
from tests.conftest import Tenant, create_inbox
from tests.mcp.conftest import key_with, sdk_session

TOOLS = {t.name: t for t in SEND_TOOLS}
CONTRACTS: dict[str, tuple[type[BaseModel], str]] = {
    "send_message": (SendRequest, "/v1/messages/send"),
    "reply": (ReplyRequest, "/v1/messages/{message_id}/reply"),
    "forward": (ForwardRequest, "/v1/messages/{message_id}/forward"),
}
# A valid value for every field any sending tool takes: a new contract field fails the test
# below until it is given one here (and so is known to reach the tools).
SAMPLES: dict[str, Any] = {
    "inbox_id": "inb_x", "to": ["Carol <carol@example.com>"], "cc": "dan@example.com",
    "bcc": ["erin@example.com"], "reply_to": "ops@example.com", "subject": "Quote", "text": "hi",
    "html": "<p>hi</p>", "attachments": ["att_1"], "thread_id": "thr_1", "headers": {"X-Tag": "a"},
    "send_at": "2030-01-01T09:00:00+00:00", "send_unless_replied": True, "require_approval": True,
    "reply_all": True, "comment": "fyi", "mode": "attachment", "message_id": "msg_1",
}  # fmt: skip


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return _resolve(spec, spec["components"]["schemas"][ref.rsplit("/", 1)[1]]) if ref else schema


async def test_tool_schemas_are_the_rest_request_bodies(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/docs/openapi.json")).json()
    for name, (model, path) in CONTRACTS.items():
        tool_schema = TOOLS[name].input_schema()
        tool_fields = set(tool_schema["properties"]) - {"message_id"}  # the path parameter
        body = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        rest_fields = set(_resolve(spec, body)["properties"])
        assert tool_fields == set(model.model_fields) == rest_fields, name
        assert tool_schema["additionalProperties"] is False
        assert set(tool_schema.get("required", [])) - {"message_id"} == set(_resolve(spec, body).get("required", []))
    assert {"send_at", "send_unless_replied", "require_approval"} <= set(TOOLS["send_message"].input_schema()["properties"])
    assert {"send_at", "send_unless_replied", "reply_all"} <= set(TOOLS["reply"].input_schema()["properties"])
    assert TOOLS["forward"].input_schema()["properties"]["mode"]["enum"] == ["inline", "attachment"]


def test_every_tool_field_is_accepted_by_the_rest_contract() -> None:
    for name, (model, _) in CONTRACTS.items():
        props = TOOLS[name].input_schema()["properties"]
        assert set(props) <= set(SAMPLES), f"{name}: give the new field(s) a sample value"
        arguments = {k: SAMPLES[k] for k in props}
        parsed = TOOLS[name].params.model_validate(arguments)  # what the tool accepts ...
        rest = model.model_validate({k: v for k, v in arguments.items() if k != "message_id"})  # ... REST takes
        assert rest.model_dump() == parsed.model_dump(exclude={"message_id"}), name


def test_descriptions_explain_every_approval_hold() -> None:
    for tool in SEND_TOOLS:
        d = tool.description
        assert "approval gate" in d and "require_approval" in d and "requires_approval" in d, tool.name
        assert "awaiting_approval" in d and "status" in d, tool.name
    assert "send_unless_replied" in TOOLS["send_message"].description
    assert "send_unless_replied" in TOOLS["reply"].description
    assert "mode" in TOOLS["forward"].description and "send_at" in TOOLS["forward"].description


async def test_a_key_created_with_requires_approval_holds_mcp_sends(
    api: httpx.AsyncClient, tenant: Tenant, worker: Any
) -> None:
    inbox = await create_inbox(api, tenant, local_part="mcp-held")
    held_key = await key_with(api, tenant, "mcp.access", "mail.send", requires_approval=True)
    free_key = await key_with(api, tenant, "mcp.access", "mail.send")
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    async with sdk_session(str(api.base_url), held_key) as session:
        by_key = await session.call_tool("send_message", {"inbox_id": inbox["id"], "to": "c@example.com",
                                                          "subject": "held by key", "text": "x"})  # fmt: skip
    async with sdk_session(str(api.base_url), free_key) as session:
        by_request = await session.call_tool("send_message", {
            "inbox_id": inbox["id"], "to": "c@example.com", "subject": "held by request", "text": "x",
            "require_approval": True, "send_at": later})  # fmt: skip
        scheduled = await session.call_tool("send_message", {
            "inbox_id": inbox["id"], "to": "c@example.com", "subject": "later", "text": "x", "send_at": later})
    for result in (by_key, by_request):
        assert result.is_error is False, result.content
        assert result.structured_content["status"] == "awaiting_approval"
        assert result.structured_content["requires_approval"] is True
    assert by_request.structured_content["send_at"] is not None
    assert scheduled.structured_content["status"] == "scheduled", scheduled.content
    assert scheduled.structured_content["requires_approval"] is False
