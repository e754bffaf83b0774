"""Discovery for agents: capabilities list the MCP tools with their scopes; llms.txt and the
skill document are generated from the OpenAPI document, so every operation appears in them."""

from __future__ import annotations

import httpx

from tests.conftest import Tenant


async def test_capabilities_list_mcp_tools_with_scopes(api: httpx.AsyncClient, tenant: Tenant) -> None:
    body = (await api.get("/v1/capabilities", headers=tenant.headers)).json()
    tools = {t["name"]: t for t in body["mcp"]["tools"]}
    assert tools["read_message"]["scopes"] == ["mail.read"] and tools["read_message"]["read_only"] is True
    assert tools["send_message"]["scopes"] == ["mail.send"] and tools["send_message"]["read_only"] is False
    assert tools["delete_message"]["destructive"] is True
    assert "2026-07-28" in body["mcp"]["protocol_versions"] and body["mcp"]["endpoint"] == "/mcp"
    assert body["agent_chat"]["enabled"] is False  # the session's API runs without an LLM
    assert "agent.auto_approve" in {s["name"] for s in body["scopes"]}


async def test_llms_txt_and_skill_cover_every_operation(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/docs/openapi.json")).json()
    llms = await api.get("/llms.txt")  # public: no key
    skill = await api.get("/v1/skill.md")
    assert llms.status_code == 200 and llms.headers["content-type"].startswith("text/plain")
    assert skill.status_code == 200 and skill.headers["content-type"].startswith("text/markdown")
    assert llms.text.startswith("# Postflow API\n\n> ") and skill.text.startswith("---\nname: postflow\n")
    for path, item in spec["paths"].items():
        for method in ("get", "post", "put", "patch", "delete"):
            if method in item:
                line = f"`{method.upper()} {path}`: {item[method].get('summary', '')}"
                assert line in llms.text and line in skill.text, line
    assert "`POST /v1/chat`: Start (or continue) an agent run; returns its id at once (scope agent.run;" in llms.text
    for tool in ("search_mail", "wait_for_otp", "send_message", "audit_review"):
        assert f"- `{tool}`: " in llms.text and f"- `{tool}`: " in skill.text
