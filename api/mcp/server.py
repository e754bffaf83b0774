"""MCP method dispatch over one decoded JSON-RPC message: `initialize` (2025 revisions, with a
stored session), `server/discover` (the stateless 2026 revision), `ping`, `tools/list` and
`tools/call`. Transport concerns (HTTP status, headers, batches) live in api/routes/mcp.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api.mcp import session as sessions
from api.mcp.catalogue import TOOLS, visible_to
from api.mcp.jsonrpc import Message, RpcError
from api.mcp.registry import ToolContext, audit_unknown_tool, call_tool
from contracts.mcp import (
    HANDSHAKE_VERSIONS,
    INSTRUCTIONS,
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    MODERN_VERSIONS,
    SERVER_NAME,
    SERVER_VERSION,
)

SERVER_INFO = {"name": SERVER_NAME, "title": "Postflow", "version": SERVER_VERSION}
CAPABILITIES: dict[str, Any] = {"tools": {"listChanged": False}}


@dataclass
class Era:
    """How this request speaks MCP: a handshake session's version, or a stateless revision."""

    version: str
    modern: bool


def _negotiate(requested: Any) -> str:
    # The client's version when we speak it, otherwise our newest (the client may disconnect).
    return requested if requested in HANDSHAKE_VERSIONS else HANDSHAKE_VERSIONS[0]


async def initialize(ctx: ToolContext, msg: Message) -> tuple[dict[str, Any], str]:
    """The handshake result and the new session's id."""
    version = _negotiate(msg.params.get("protocolVersion"))
    client = msg.params.get("clientInfo")
    name = str(client.get("name", "")) if isinstance(client, dict) else ""
    async with ctx.sessionmaker.begin() as db:
        session_id = await sessions.open_session(db, ctx.principal, version, name)
    result = {"protocolVersion": version, "capabilities": CAPABILITIES, "serverInfo": SERVER_INFO,
              "instructions": INSTRUCTIONS}  # fmt: skip
    return result, session_id


def discover() -> dict[str, Any]:
    return {
        "supportedVersions": [*MODERN_VERSIONS, *HANDSHAKE_VERSIONS],
        "capabilities": CAPABILITIES, "instructions": INSTRUCTIONS,
        "_meta": {"io.modelcontextprotocol/serverInfo": SERVER_INFO},
        "resultType": "complete", "ttlMs": 0, "cacheScope": "private",
    }  # fmt: skip


def list_tools(ctx: ToolContext, era: Era) -> dict[str, Any]:
    out: dict[str, Any] = {"tools": [t.descriptor() for t in visible_to(ctx.principal)]}
    if era.modern:
        out.update(resultType="complete", ttlMs=0, cacheScope="private")
    return out


async def tools_call(ctx: ToolContext, msg: Message, era: Era) -> dict[str, Any]:
    name = msg.params.get("name")
    if not isinstance(name, str) or not name:
        raise RpcError(INVALID_PARAMS, "Invalid params: name (the tool) is required")
    arguments = msg.params.get("arguments") or {}
    if not isinstance(arguments, dict):
        raise RpcError(INVALID_PARAMS, "Invalid params: arguments must be an object")
    tool = TOOLS.get(name)
    if tool is None:
        await audit_unknown_tool(ctx, name)
        raise RpcError(INVALID_PARAMS, f"Unknown tool: {name[:100]}", {"field": "name"})
    outcome = await call_tool(ctx, tool, arguments)
    out = outcome.mcp_result()
    if era.modern:
        out["resultType"] = "complete"
    return out


async def dispatch(ctx: ToolContext, msg: Message, era: Era) -> dict[str, Any]:
    """The result of one request (after the session or envelope was checked)."""
    if msg.method == "ping":
        return {"resultType": "complete"} if era.modern else {}
    if msg.method == "tools/list":
        return list_tools(ctx, era)
    if msg.method == "tools/call":
        return await tools_call(ctx, msg, era)
    if msg.method == "server/discover":
        return discover()
    raise RpcError(METHOD_NOT_FOUND, f"Method not found: {str(msg.method)[:100]}")
