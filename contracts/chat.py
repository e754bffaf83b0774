"""Agent chat payloads: the AgentRun workflow's input and state, and its activities' inputs and
results. Sandbox-safe (stdlib + pydantic)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, JsonValue

SIGNAL_USER_MESSAGE = "user_message"
UPDATE_CONFIRM = "confirm"
UPDATE_REJECT = "reject"
UPDATE_WAIT_TURNS = "wait_for_turns"
QUERY_STATE = "get_state"
LLM_NOT_CONFIGURED = "llm_not_configured"

RunStatus = Literal["thinking", "awaiting_confirmation", "idle", "finished"]
ActionStatus = Literal["pending", "confirmed", "rejected", "expired", "executed", "failed"]
Verdict = Literal["read", "act", "refused"]


class RunPrincipal(BaseModel):
    """The API key a run acts for, as it was when the run started (scopes never grow)."""

    key_id: str
    user_id: str
    org_id: str
    role: str
    scopes: list[str]
    department_id: str | None = None
    restrict_to_department: bool = False
    inbox_ids: list[str] | None = None


class ToolCall(BaseModel):
    id: str
    name: str
    arguments: str  # as the model wrote it (JSON text, possibly invalid)


class Turn(BaseModel):
    index: int
    role: Literal["user", "assistant", "tool", "error"]
    content: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None
    is_error: bool = False
    action_id: str | None = None
    at: datetime


class PendingAction(BaseModel):
    id: str
    tool: str
    arguments: dict[str, JsonValue]
    tool_call_id: str
    status: ActionStatus
    auto_approved: bool = False
    created_at: datetime
    decided_at: datetime | None = None
    decided_by: str | None = None
    result: dict[str, JsonValue] | None = None


class RunState(BaseModel):
    status: RunStatus = "thinking"
    turns: list[Turn] = Field(default_factory=list)
    actions: list[PendingAction] = Field(default_factory=list)
    tokens_used: int = 0
    steps: int = 0


class AgentRunInput(BaseModel):
    run_id: str
    inbox_id: str
    principal: RunPrincipal
    message: str | None = None
    max_steps: int = 8
    token_budget: int = 50_000
    confirm_timeout_seconds: int = 7 * 24 * 3600
    idle_timeout_seconds: int = 24 * 3600
    state: RunState | None = None  # carried over by continue-as-new


class UserMessageInput(BaseModel):
    text: str


class DecisionInput(BaseModel):
    action_id: str
    decided_by: str


class WaitTurnsInput(BaseModel):
    after: int = 0


class CompleteInput(BaseModel):
    run_id: str
    inbox_id: str
    principal: RunPrincipal
    turns: list[Turn]


class PlannedCall(BaseModel):
    id: str
    name: str
    arguments: dict[str, JsonValue] = Field(default_factory=dict)
    verdict: Verdict
    error: str | None = None
    timeout_seconds: float = 60


class CompleteResult(BaseModel):
    content: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    planned: list[PlannedCall] = Field(default_factory=list)
    tokens: int = 0
    auto_approve: bool = False


class RunToolInput(BaseModel):
    run_id: str
    inbox_id: str
    principal: RunPrincipal
    tool: str
    arguments: dict[str, JsonValue]
    action_id: str | None = None  # side effects: the action, which keys their idempotency


class RunToolResult(BaseModel):
    is_error: bool
    data: dict[str, JsonValue]


class RecordActionInput(BaseModel):
    run_id: str
    inbox_id: str
    principal: RunPrincipal
    action_id: str
    tool: str
    status: str  # proposed | refused | confirmed | rejected | expired | executed | failed
    arguments: dict[str, JsonValue]
