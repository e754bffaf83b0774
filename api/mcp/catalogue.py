"""Every tool Postflow offers to MCP clients and the agent chat, by name."""

from __future__ import annotations

from api.auth import Principal
from api.mcp.registry import Tool
from api.mcp.insight_tools import INSIGHT_TOOLS
from api.mcp.send_tools import SEND_TOOLS
from api.mcp.tools import MAIL_TOOLS


def _all() -> list[Tool]:
    return [*MAIL_TOOLS, *SEND_TOOLS, *INSIGHT_TOOLS]


TOOLS: dict[str, Tool] = {t.name: t for t in _all()}


def visible_to(principal: Principal) -> list[Tool]:
    """The tools this key may call: a tool whose scope the key lacks is not listed."""
    return [t for t in TOOLS.values() if t.allowed(principal)]
