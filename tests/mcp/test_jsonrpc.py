"""The MCP endpoint with raw JSON-RPC: every error code, sessions, batches, both protocol eras,
scopes, and the audit trail. Nothing a client sends may produce a 500."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from tests.conftest import Tenant, create_inbox
from tests.helpers.http_server import serve
from tests.mcp.conftest import key_with, rpc

ACCEPT = {"Accept": "application/json, text/event-stream"}
MODERN = "2026-07-28"


def h(key: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **ACCEPT, **extra}


async def session_for(api: httpx.AsyncClient, key: str, version: str = "2025-11-25") -> str:
    r = await api.post("/mcp", headers=h(key), json=rpc("initialize", {
        "protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}))
    assert r.status_code == 200, r.text
    assert r.json()["result"]["protocolVersion"] == version
    sid = r.headers["mcp-session-id"]
    r = await api.post("/mcp", headers=h(key, **{"Mcp-Session-Id": sid}), json=rpc("notifications/initialized", id_=None))
    assert r.status_code == 202 and r.content == b""
    return sid


def modern(method: str, params: dict[str, Any] | None = None, version: str = MODERN) -> dict[str, Any]:
    meta = {"io.modelcontextprotocol/protocolVersion": version, "io.modelcontextprotocol/clientCapabilities": {}}
    return rpc(method, {**(params or {}), "_meta": meta})


async def test_jsonrpc_framing_errors(api: httpx.AsyncClient, tenant: Tenant) -> None:
    key = await key_with(api, tenant, "mcp.access", "mail.read")
    sid = await session_for(api, key)
    s = h(key, **{"Mcp-Session-Id": sid, "Content-Type": "application/json"})
    r = await api.post("/mcp", headers=s, content=b"{not json")
    assert r.status_code == 400 and r.json()["error"]["code"] == -32700 and r.json()["id"] is None
    for bad in ({"jsonrpc": "1.0", "id": 1, "method": "ping"}, {"jsonrpc": "2.0", "id": 1},
                {"jsonrpc": "2.0", "id": {"x": 1}, "method": "ping"}, [], "ping",
                {"jsonrpc": "2.0", "id": 2, "method": "ping", "params": [1]}):  # fmt: skip
        r = await api.post("/mcp", headers=s, json=bad)
        assert r.status_code == 400 and r.json()["error"]["code"] == -32600, (bad, r.text)
    r = await api.post("/mcp", headers=s, json=rpc("resources/list", id_=7))
    assert r.status_code == 200 and r.json() == {"jsonrpc": "2.0", "id": 7, "error": {
        "code": -32601, "message": "Method not found: resources/list"}}
    r = await api.post("/mcp", headers=s, json=rpc("ping", id_="p"))
    assert r.json() == {"jsonrpc": "2.0", "id": "p", "result": {}}


async def test_jsonrpc_invalid_params_unknown_tool_and_bad_arguments(api: httpx.AsyncClient, tenant: Tenant) -> None:
    key = await key_with(api, tenant, "mcp.access", "mail.read")
    s = h(key, **{"Mcp-Session-Id": await session_for(api, key)})
    for params in ({}, {"name": "no_such_tool"}, {"name": "read_message", "arguments": [1]}):
        r = await api.post("/mcp", headers=s, json=rpc("tools/call", params))
        assert r.status_code == 200 and r.json()["error"]["code"] == -32602, r.text
    r = await api.post("/mcp", headers=s, json=rpc("tools/call", {"name": "read_message", "arguments": {"message_id": 5, "x": 1}}))
    result = r.json()["result"]
    assert result["isError"] is True and "structuredContent" not in result
    assert '"validation_error"' in result["content"][0]["text"] and "message_id" in result["content"][0]["text"]
    r = await api.post("/mcp", headers=s, json=rpc("tools/call", {"name": "read_message", "arguments": {"message_id": "msg_nope"}}))
    assert r.json()["result"]["isError"] is True and '"not_found"' in r.json()["result"]["content"][0]["text"]


async def test_jsonrpc_scopes_limit_tools_and_are_audited(
    api: httpx.AsyncClient, tenant: Tenant, sessionmaker: Any
) -> None:
    from store.models import AuditEntry

    no_mcp = await key_with(api, tenant, "mail.read")
    r = await api.post("/mcp", headers=h(no_mcp), json=rpc("initialize", {"protocolVersion": "2025-11-25"}))
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    r = await api.post("/mcp", headers=ACCEPT, json=rpc("ping"))
    assert r.status_code == 401
    key0 = await key_with(api, tenant, "mcp.access")
    r = await api.post("/mcp", headers=h(key0, Origin="https://evil.example"), json=rpc("initialize", {}))
    assert r.status_code == 403  # DNS-rebinding guard: a foreign browser origin
    r = await api.post("/mcp", headers=h(key0, Origin="http://localhost:6274"), json=rpc("initialize", {}))
    assert r.status_code == 200
    key = await key_with(api, tenant, "mcp.access", "mail.read")
    s = h(key, **{"Mcp-Session-Id": await session_for(api, key)})
    listed = (await api.post("/mcp", headers=s, json=rpc("tools/list"))).json()["result"]["tools"]
    assert "label_message" not in {t["name"] for t in listed} and "create_inbox" not in {t["name"] for t in listed}
    r = await api.post("/mcp", headers=s, json=rpc("tools/call", {"name": "create_inbox", "arguments": {}}))
    assert r.json()["result"]["isError"] is True and '"forbidden"' in r.json()["result"]["content"][0]["text"]
    await api.post("/mcp", headers=s, json=rpc("tools/call", {"name": "drop_tables", "arguments": {}}))
    await api.post("/mcp", headers=s, json=rpc("tools/call", {"name": "list_inboxes", "arguments": {}}))
    async with sessionmaker() as db:
        rows = (await db.scalars(select(AuditEntry).where(AuditEntry.org_id == tenant.org_id,
                                                          AuditEntry.action == "mcp.tool_call")
                                 .order_by(AuditEntry.id))).all()  # fmt: skip
    assert [(e.resource_id, e.outcome) for e in rows] == [
        ("create_inbox", "denied"), ("drop_tables", "error"), ("list_inboxes", "ok")]
    assert (await api.get("/v1/inboxes", headers=tenant.headers)).json()["data"] == []


async def test_sessions_are_durable_per_key_and_end_on_delete(
    api: httpx.AsyncClient, tenant: Tenant, settings: Any
) -> None:
    from api.app import create_app

    key = await key_with(api, tenant, "mcp.access", "mail.read")
    other = await key_with(api, tenant, "mcp.access", "mail.read")
    sid = await session_for(api, key)
    r = await api.post("/mcp", headers=h(key), json=rpc("tools/list"))
    assert r.status_code == 400 and r.json()["error"]["code"] == -32600  # no session header
    r = await api.post("/mcp", headers=h(key, **{"Mcp-Session-Id": "mcps_unknown"}), json=rpc("tools/list"))
    assert r.status_code == 404
    r = await api.post("/mcp", headers=h(other, **{"Mcp-Session-Id": sid}), json=rpc("tools/list"))
    assert r.status_code == 404  # a session belongs to its key
    with serve(create_app(settings)) as url:  # another API process knows the session too
        async with httpx.AsyncClient(base_url=url) as fresh:
            r = await fresh.post("/mcp", headers=h(key, **{"Mcp-Session-Id": sid}), json=rpc("tools/list"))
            assert r.status_code == 200 and r.json()["result"]["tools"]
    assert (await api.get("/mcp", headers=h(key, **{"Mcp-Session-Id": sid}))).status_code == 405
    assert (await api.delete("/mcp", headers=h(key, **{"Mcp-Session-Id": sid}))).status_code == 204
    r = await api.post("/mcp", headers=h(key, **{"Mcp-Session-Id": sid}), json=rpc("ping"))
    assert r.status_code == 404
    assert (await api.delete("/mcp", headers=h(key, **{"Mcp-Session-Id": sid}))).status_code == 404


async def test_version_negotiation_and_batches(api: httpx.AsyncClient, tenant: Tenant) -> None:
    key = await key_with(api, tenant, "mcp.access", "mail.read")
    r = await api.post("/mcp", headers=h(key), json=rpc("initialize", {"protocolVersion": "1999-01-01"}))
    assert r.json()["result"]["protocolVersion"] == "2025-11-25"  # ours, the client may disconnect
    new = h(key, **{"Mcp-Session-Id": await session_for(api, key, "2025-06-18")})
    r = await api.post("/mcp", headers=new, json=[rpc("ping", id_=1), rpc("tools/list", id_=2)])
    assert r.status_code == 400 and r.json()["error"]["code"] == -32600  # no batches since 2025-06-18
    old = h(key, **{"Mcp-Session-Id": await session_for(api, key, "2025-03-26")})
    r = await api.post("/mcp", headers=old, json=[rpc("ping", id_=1), rpc("notifications/initialized", id_=None),
                                                  {"jsonrpc": "2.0"}, rpc("nope", id_=3)])  # fmt: skip
    answers = {a["id"]: a for a in r.json()}
    assert r.status_code == 200 and answers[1]["result"] == {} and answers[3]["error"]["code"] == -32601
    assert answers[None]["error"]["code"] == -32600 and len(answers) == 3
    r = await api.post("/mcp", headers=old, json=[rpc("notifications/initialized", id_=None)])
    assert r.status_code == 202
    r = await api.post("/mcp", headers=h(key, **{"Mcp-Session-Id": await session_for(api, key),
                                               "MCP-Protocol-Version": "1999-01-01"}), json=rpc("ping"))  # fmt: skip
    assert r.status_code == 400


async def test_stateless_2026_requests(api: httpx.AsyncClient, tenant: Tenant) -> None:
    inbox = await create_inbox(api, tenant, local_part="mcp-raw-modern")
    key = await key_with(api, tenant, "mcp.access", "mail.read")
    hdr = h(key, **{"MCP-Protocol-Version": MODERN, "Mcp-Method": "server/discover"})
    r = await api.post("/mcp", headers=hdr, json=modern("server/discover"))
    assert r.status_code == 200 and MODERN in r.json()["result"]["supportedVersions"]
    assert "mcp-session-id" not in r.headers
    call = modern("tools/call", {"name": "list_inboxes", "arguments": {}})
    r = await api.post("/mcp", headers=h(key, **{"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call"}), json=call)
    result = r.json()["result"]
    assert result["resultType"] == "complete" and result["structuredContent"]["data"][0]["id"] == inbox["id"]
    r = await api.post("/mcp", headers=hdr, json=rpc("server/discover", {"_meta": {
        "io.modelcontextprotocol/protocolVersion": MODERN}}))  # no client capabilities
    assert r.status_code == 400 and r.json()["error"]["code"] == -32602
    r = await api.post("/mcp", headers=h(key, **{"MCP-Protocol-Version": "2025-11-25"}), json=modern("server/discover"))
    assert r.status_code == 400 and r.json()["error"]["code"] == -32020
    future = "2099-01-01"
    r = await api.post("/mcp", headers=h(key, **{"MCP-Protocol-Version": future}), json=modern("server/discover", version=future))
    assert r.status_code == 400 and r.json()["error"]["code"] == -32022
    assert MODERN in r.json()["error"]["data"]["supported"]
    r = await api.post("/mcp", headers=h(key, **{"MCP-Protocol-Version": MODERN}), json=modern("nope/nope"))
    assert r.status_code == 404 and r.json()["error"]["code"] == -32601
