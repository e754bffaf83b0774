"""Agent chat: ask Postflow's own agent in plain language. Runs are durable `AgentRun/{run_id}`
workflows; side-effecting actions wait for `confirm`/`reject` (see workflows/agent_run.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Controller, get, post, put
from litestar.datastructures import State
from litestar.params import Parameter
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from api.actions import chat as chat_actions
from api.audit import audit_action
from api.auth import Principal, requires
from contracts.chat import PendingAction, RunState, Turn
from store import inboxes
from store.models import AgentRun

MAX_WAIT = 60


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inbox_id: str = Field(min_length=1, max_length=64)
    message: str = Field(min_length=1, max_length=20_000)
    conversation_id: str | None = Field(None, max_length=64, description="a run id to continue")
    max_steps: int = Field(8, ge=1, le=25, description="model steps per message")
    token_budget: int = Field(50_000, ge=100, le=1_000_000, description="tokens for the whole run")


class ChatStarted(BaseModel):
    run_id: str
    conversation_id: str
    inbox_id: str
    workflow_id: str
    continued: bool


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action_id: str = Field(min_length=1, max_length=40)


class RunView(BaseModel):
    run_id: str
    inbox_id: str
    workflow_id: str
    created_at: datetime
    status: str
    turns: list[Turn]
    tool_calls: list[dict[str, JsonValue]]
    pending_actions: list[PendingAction]
    actions: list[PendingAction]
    tokens_used: int
    steps: int

    @classmethod
    def of(cls, run: AgentRun, s: RunState, after: int) -> RunView:
        calls = [{"turn": t.index, "id": c.id, "name": c.name, "arguments": c.arguments}
                 for t in s.turns if t.index >= after for c in t.tool_calls]  # fmt: skip
        return cls(
            run_id=run.id, inbox_id=run.inbox_id, workflow_id=run.workflow_id, created_at=run.created_at,
            status=s.status, turns=[t for t in s.turns if t.index >= after], tool_calls=calls,
            pending_actions=[a for a in s.actions if a.status == "pending"], actions=s.actions,
            tokens_used=s.tokens_used, steps=s.steps,
        )  # fmt: skip


class AgentSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    auto_approve: bool = Field(description="run side-effecting actions without confirmation "
                               "(only for keys holding agent.auto_approve)")  # fmt: skip


class ChatController(Controller):
    path = "/v1/chat"
    tags = ["chat"]
    guards = [requires("agent.run")]

    @post("/", status_code=202, summary="Start (or continue) an agent run; returns its id at once")
    async def chat(self, data: ChatRequest, state: State, principal: Principal) -> ChatStarted:
        if data.conversation_id:
            run = await chat_actions.continue_run(state.sessionmaker, state.temporal, state.settings, principal,
                                                  run_id=data.conversation_id, inbox_id=data.inbox_id,
                                                  message=data.message)  # fmt: skip
        else:
            run = await chat_actions.start(state.sessionmaker, state.temporal, state.settings, principal,
                                           inbox_id=data.inbox_id, message=data.message,
                                           max_steps=data.max_steps, token_budget=data.token_budget)  # fmt: skip
        return ChatStarted(run_id=run.id, conversation_id=run.id, inbox_id=run.inbox_id,
                           workflow_id=run.workflow_id, continued=bool(data.conversation_id))  # fmt: skip

    @get("/{run_id:str}", summary="Transcript, tool calls and pending actions; `wait=N` long-polls")
    async def read(
        self, run_id: str, state: State, principal: Principal,
        wait: int = Parameter(default=0, ge=0, le=MAX_WAIT, description="seconds to wait for the run to settle"),
        after: int = Parameter(default=0, ge=0, le=100_000, description="only turns with index >= after"),
    ) -> RunView:  # fmt: skip
        run = await chat_actions.get_run(state.sessionmaker, principal, run_id)
        return RunView.of(run, await chat_actions.state(state.temporal, run, wait=wait, after=after), after)

    @post("/{run_id:str}/confirm", status_code=200, summary="Confirm a pending action (it runs)")
    async def confirm(self, run_id: str, data: Decision, state: State, principal: Principal) -> PendingAction:
        run = await chat_actions.get_run(state.sessionmaker, principal, run_id)
        return await chat_actions.decide(state.temporal, principal, run, data.action_id, confirm=True)  # type: ignore[no-any-return]

    @post("/{run_id:str}/reject", status_code=200, summary="Reject a pending action (nothing happens)")
    async def reject(self, run_id: str, data: Decision, state: State, principal: Principal) -> PendingAction:
        run = await chat_actions.get_run(state.sessionmaker, principal, run_id)
        return await chat_actions.decide(state.temporal, principal, run, data.action_id, confirm=False)  # type: ignore[no-any-return]


@put("/v1/inboxes/{inbox_id:str}/agent-settings", guards=[requires("inboxes.manage")], tags=["chat"],
     summary="The agent chat's settings for an inbox (auto-approval)")  # fmt: skip
async def put_agent_settings(inbox_id: str, data: AgentSettings, state: State, principal: Principal) -> AgentSettings:
    async with state.sessionmaker.begin() as db:
        inbox = await inboxes.get_inbox(db, principal.scope, inbox_id)
        settings: dict[str, Any] = dict(inbox.settings or {})
        settings["agent"] = {**settings.get("agent", {}), "auto_approve": data.auto_approve}
        await inboxes.update_inbox(db, inbox, {"settings": settings})
        audit_action(db, principal, "inbox.agent_settings", resource_type="inbox", resource_id=inbox.id,
                     details={"auto_approve": data.auto_approve})  # fmt: skip
    return data
