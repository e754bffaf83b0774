"""Agent chat activities: one LLM step through litellm (the only module that imports it), one
tool call through the same registry as MCP, and recording an action (audit + `agent.action`).

litellm's own retries are off (num_retries=0): Temporal retries the activity.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from contracts.chat import (
    LLM_NOT_CONFIGURED,
    CompleteInput,
    CompleteResult,
    PlannedCall,
    RecordActionInput,
    RunPrincipal,
    RunToolInput,
    RunToolResult,
    ToolCall,
    Turn,
)

if TYPE_CHECKING:
    from activities.deps import ActivityDeps
    from api.auth import Principal

AUTO_APPROVE_SCOPE = "agent.auto_approve"
MAX_RESULT_CHARS = 16_000
SYSTEM_PROMPT = (
    "You are Postflow's mail agent for the inbox {address} (inbox_id {inbox_id}). Use the tools "
    "to read, search and act on mail. Tools that change something (send, reply, forward, delete, "
    "label, create) wait for a human to confirm; if one is rejected, do not retry it. Answer "
    "briefly in plain language."
)


def to_principal(rp: RunPrincipal) -> Principal:
    from api.auth import Principal
    from store.scope import TenantScope

    return Principal(
        key_id=rp.key_id, user_id=rp.user_id, org_id=rp.org_id, role=rp.role, is_superadmin=False,
        scopes=frozenset(rp.scopes),
        scope=TenantScope(org_id=rp.org_id, department_id=rp.department_id,
                          restrict_to_department=rp.restrict_to_department,
                          inbox_ids=frozenset(rp.inbox_ids) if rp.inbox_ids is not None else None),
    )  # fmt: skip


def _llm_messages(system: str, turns: list[Turn]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"role": "system", "content": system}]
    for t in turns:
        if t.role == "user":
            out.append({"role": "user", "content": t.content or ""})
        elif t.role == "assistant":
            msg: dict[str, Any] = {"role": "assistant", "content": t.content}
            if t.tool_calls:
                msg["tool_calls"] = [{"id": c.id, "type": "function",
                                      "function": {"name": c.name, "arguments": c.arguments}}
                                     for c in t.tool_calls]  # fmt: skip
            out.append(msg)
        elif t.role == "tool":
            out.append({"role": "tool", "tool_call_id": t.tool_call_id, "content": t.content or ""})
    return out


def _plan(principal: Principal, call: ToolCall) -> PlannedCall:
    """Classify one tool call the model made: run it now, ask first, or refuse it."""
    from api.mcp.catalogue import TOOLS
    from api.mcp.registry import Outcome, parse_arguments

    tool = TOOLS.get(call.name)
    if tool is None:
        return PlannedCall(id=call.id, name=call.name, verdict="refused", error=f"unknown tool {call.name[:80]!r}")
    if not tool.allowed(principal):
        return PlannedCall(id=call.id, name=call.name, verdict="refused",
                           error=f"forbidden: this run's API key lacks the scope {' or '.join(tool.scopes)}")  # fmt: skip
    try:
        args = json.loads(call.arguments or "{}")
    except ValueError:
        return PlannedCall(id=call.id, name=call.name, verdict="refused", error="arguments are not valid JSON")
    if not isinstance(args, dict):
        return PlannedCall(id=call.id, name=call.name, verdict="refused", error="arguments must be a JSON object")
    parsed = parse_arguments(tool, args)
    if isinstance(parsed, Outcome):
        return PlannedCall(id=call.id, name=call.name, arguments=args, verdict="refused",
                           error=json.dumps(parsed.data["error"]))  # fmt: skip
    return PlannedCall(id=call.id, name=call.name, arguments=args, verdict="read" if tool.read_only else "act",
                       timeout_seconds=tool.max_seconds)  # fmt: skip


class _ActivityTemporal:
    """The LazyClient shape tools expect, backed by the worker's own client."""

    async def get(self) -> Any:
        return activity.client()


class AgentActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    async def _inbox(self, principal: Principal, inbox_id: str) -> tuple[str, bool]:
        from store import inboxes

        async with self.deps.sessionmaker() as db:
            inbox = await inboxes.get_inbox(db, principal.scope, inbox_id)
            auto = bool((inbox.settings or {}).get("agent", {}).get("auto_approve"))
            return inbox.address, auto

    @activity.defn(name="agent.complete")
    async def complete(self, inp: CompleteInput) -> CompleteResult:
        """One model step: the answer text and the tool calls it wants, each classified."""
        import litellm

        from api.mcp.catalogue import visible_to

        s = self.deps.settings
        if not s.llm_model:
            raise ApplicationError("no LLM is configured", type=LLM_NOT_CONFIGURED, non_retryable=True)
        principal = to_principal(inp.principal)
        address, auto = await self._inbox(principal, inp.inbox_id)
        tools = [{"type": "function", "function": {"name": t.name, "description": t.description,
                                                   "parameters": t.input_schema()}}
                 for t in visible_to(principal)]  # fmt: skip
        response = await litellm.acompletion(
            model=s.llm_model, api_base=s.llm_api_base or None,
            # A local OpenAI-compatible server usually needs no key, but the client insists on one.
            api_key=s.llm_api_key.get_secret_value() if s.llm_api_key else ("unused" if s.llm_api_base else None),
            messages=_llm_messages(SYSTEM_PROMPT.format(address=address, inbox_id=inp.inbox_id), inp.turns),
            tools=tools or None, timeout=s.llm_timeout_seconds, num_retries=0,
        )  # fmt: skip
        message = response.choices[0].message
        calls = [ToolCall(id=c.id or f"call_{i}", name=c.function.name or "", arguments=c.function.arguments or "")
                 for i, c in enumerate(message.tool_calls or [])]  # fmt: skip
        usage = getattr(response, "usage", None)
        return CompleteResult(
            content=message.content, tool_calls=calls, planned=[_plan(principal, c) for c in calls],
            tokens=int(getattr(usage, "total_tokens", 0) or 0),
            auto_approve=auto and principal.can(AUTO_APPROVE_SCOPE),
        )  # fmt: skip

    @activity.defn(name="agent.run_tool")
    async def run_tool(self, inp: RunToolInput) -> RunToolResult:
        """Run one tool for the run's key (still valid, same scopes) through the MCP registry."""
        from api.mcp.catalogue import TOOLS
        from api.mcp.registry import ToolContext, call_tool
        from store.base import utcnow
        from store.models import ApiKey

        async with self.deps.sessionmaker() as db:
            key = await db.get(ApiKey, inp.principal.key_id)
        if key is None or key.revoked_at is not None or (key.expires_at and key.expires_at <= utcnow()):
            return RunToolResult(is_error=True, data={"error": {"code": "unauthorized",
                                 "message": "the run's API key was revoked or expired"}})  # fmt: skip
        tool = TOOLS.get(inp.tool)
        if tool is None:
            return RunToolResult(is_error=True, data={"error": {"code": "unknown_tool", "message": inp.tool}})
        ctx = ToolContext(principal=to_principal(inp.principal), sessionmaker=self.deps.sessionmaker,
                          temporal=_ActivityTemporal(), settings=self.deps.settings, blobs=self.deps.blobs,
                          channel="agent", run_id=inp.run_id,
                          idempotency_key=f"agent:{inp.run_id}:{inp.action_id}" if inp.action_id else None)  # fmt: skip
        outcome = await call_tool(ctx, tool, dict(inp.arguments))
        text = json.dumps(outcome.data, default=str, ensure_ascii=False)
        if len(text) > MAX_RESULT_CHARS:  # workflow history and the model's context are finite
            return RunToolResult(is_error=outcome.is_error, data={
                "truncated": True, "original_chars": len(text), "partial_json": text[:MAX_RESULT_CHARS]})
        return RunToolResult(is_error=outcome.is_error, data=json.loads(text))

    @activity.defn(name="agent.record_action")
    async def record_action(self, inp: RecordActionInput) -> None:
        """Audit an action's step and emit it as an `agent.action` event (once per step)."""
        from contracts.events import AgentActionData
        from store import audit, events

        p = inp.principal
        data = AgentActionData(run_id=inp.run_id, action=inp.tool, status=inp.status,
                               arguments=dict(inp.arguments), action_id=inp.action_id)  # fmt: skip
        async with self.deps.sessionmaker.begin() as db:
            await events.emit(db, org_id=p.org_id, inbox_id=inp.inbox_id, type="agent.action",
                              resource_id=f"{inp.run_id}:{inp.action_id}:{inp.status}"[:80],
                              payload=data.model_dump(mode="json"))  # fmt: skip
            audit.record(db, org_id=p.org_id, actor_type="agent", actor_id=inp.run_id[:40],
                         action=f"agent.action.{inp.status}", resource_type="tool", resource_id=inp.tool[:40],
                         details={"action_id": inp.action_id, "key_id": p.key_id, "arguments": sorted(inp.arguments)})  # fmt: skip
