"""The tool registry shared by the MCP server and the agent chat: each tool's JSON Schemas,
annotations and scope, argument validation, and one `call_tool` that runs a tool through the
same service functions (api/actions/*) as the REST routes and audits every call and failure.

A tool never raises to its caller: bad arguments, a missing scope, a missing resource or an
unexpected fault all become an error outcome the model can read (MCP `isError: true`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.auth import Principal
from api.errors import ApiError
from settings import Settings
from store import audit
from store.errors import StoreError

log = logging.getLogger("postflow.tools")


@dataclass
class ToolContext:
    """What a tool runs with: the caller and the platform's handles (API state or worker deps)."""

    principal: Principal
    sessionmaker: async_sessionmaker[AsyncSession]
    temporal: Any  # an object with `async get() -> temporalio.client.Client` (LazyClient)
    settings: Settings
    blobs: Any
    handoff: Any = None
    channel: str = "mcp"  # mcp | agent
    run_id: str | None = None
    # Set by the agent chat (one per action) so a retried side effect is not done twice.
    idempotency_key: str | None = None


Handler = Callable[[ToolContext, Any], Awaitable[Any]]


@dataclass(frozen=True)
class Tool:
    name: str
    title: str
    description: str
    scopes: tuple[str, ...]  # the key needs at least one of them
    params: type[BaseModel]
    handler: Handler
    read_only: bool
    destructive: bool = False
    idempotent: bool = False
    open_world: bool = False
    output: type[BaseModel] | None = None
    max_seconds: float = 60  # how long a call may take (waits take longer)

    def allowed(self, principal: Principal) -> bool:
        return any(principal.can(s) for s in self.scopes)

    def input_schema(self) -> dict[str, Any]:
        return self.params.model_json_schema(by_alias=True)

    def descriptor(self) -> dict[str, Any]:
        """The MCP `Tool` object."""
        out: dict[str, Any] = {
            "name": self.name, "title": self.title, "description": self.description,
            "inputSchema": self.input_schema(),
            "annotations": {
                "title": self.title, "readOnlyHint": self.read_only,
                "destructiveHint": self.destructive, "idempotentHint": self.idempotent,
                "openWorldHint": self.open_world,
            },
        }  # fmt: skip
        if self.output is not None:
            out["outputSchema"] = self.output.model_json_schema(by_alias=True, mode="serialization")
        return out


@dataclass
class Outcome:
    is_error: bool
    data: dict[str, Any]
    code: str = "ok"
    extra: dict[str, Any] = field(default_factory=dict)

    def mcp_result(self) -> dict[str, Any]:
        text = json.dumps(self.data, default=str, ensure_ascii=False)
        out: dict[str, Any] = {"content": [{"type": "text", "text": text}], "isError": self.is_error}
        if not self.is_error:
            out["structuredContent"] = self.data
        return out


def _error(code: str, message: str, details: list[dict[str, Any]] | None = None) -> Outcome:
    return Outcome(True, {"error": {"code": code, "message": message, "details": details or []}}, code)


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    return [{"field": ".".join(str(p) for p in e["loc"]) or None, "message": e["msg"]} for e in exc.errors()]


def parse_arguments(tool: Tool, arguments: dict[str, Any]) -> BaseModel | Outcome:
    try:
        return tool.params.model_validate(arguments)
    except ValidationError as exc:
        return _error("validation_error", f"invalid arguments for {tool.name}", validation_details(exc))


async def _run(ctx: ToolContext, tool: Tool, arguments: dict[str, Any]) -> Outcome:
    if not tool.allowed(ctx.principal):
        need = " or ".join(tool.scopes)
        return _error("forbidden", f"this API key lacks the scope {need}", [{"field": "scope", "message": f"requires {need}"}])
    parsed = parse_arguments(tool, arguments)
    if isinstance(parsed, Outcome):
        return parsed
    try:
        value = await tool.handler(ctx, parsed)
    except StoreError as exc:
        return _error(exc.code, exc.message, [{"field": exc.field, "message": exc.message}] if exc.field else [])
    except ApiError as exc:
        return _error(exc.code, exc.detail, exc.details)
    except ValidationError as exc:
        return _error("validation_error", "invalid arguments", validation_details(exc))
    except Exception:
        log.exception("tool %s failed", tool.name)
        return _error("internal_error", f"{tool.name} failed unexpectedly; it was logged")
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", by_alias=True)
    return Outcome(False, value)


async def audit_unknown_tool(ctx: ToolContext, name: str) -> None:
    """A call of a tool that does not exist is a failure too, and audited like one."""
    p = ctx.principal
    async with ctx.sessionmaker.begin() as db:
        audit.record(db, org_id=p.org_id, actor_type="api_key", actor_id=p.key_id,
                     action=f"{ctx.channel}.tool_call", resource_type="tool", resource_id=name[:40],
                     outcome="error", details={"tool": name[:200], "channel": ctx.channel,
                                               "user_id": p.user_id, "error": "unknown_tool"})  # fmt: skip


async def call_tool(ctx: ToolContext, tool: Tool, arguments: dict[str, Any]) -> Outcome:
    """Run one tool call and write it, success or failure, to the audit log."""
    outcome = await _run(ctx, tool, arguments)
    p = ctx.principal
    details: dict[str, Any] = {"tool": tool.name, "channel": ctx.channel, "user_id": p.user_id,
                               "arguments": sorted(arguments)}  # fmt: skip
    if ctx.run_id:
        details["run_id"] = ctx.run_id
    if outcome.is_error:
        details["error"] = outcome.data["error"]["code"]
    async with ctx.sessionmaker.begin() as db:
        audit.record(
            db, org_id=p.org_id, actor_type="api_key", actor_id=p.key_id,
            action=f"{ctx.channel}.tool_call", resource_type="tool", resource_id=tool.name[:40],
            outcome="denied" if outcome.code == "forbidden" else ("error" if outcome.is_error else "ok"),
            details=details,
        )  # fmt: skip
    return outcome
