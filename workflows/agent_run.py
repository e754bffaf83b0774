"""AgentRun: Postflow's own agent answering an operator in plain language, one durable run per
conversation (`AgentRun/{run_id}`).

Each user message starts a tool-calling loop (LLM step in an activity, at most `max_steps`
steps, within `token_budget` tokens). Read-only tools run at once; a side-effecting call
becomes a pending action that waits (durably, for days) for the `confirm`/`reject` update,
unless the inbox auto-approves and the key holds `agent.auto_approve`. Invalid or unknown tool
calls, missing scopes and a model repeating itself become error turns, never actions.
"""

from __future__ import annotations

import json
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.agent import AgentActivities
    from contracts.chat import (
        QUERY_STATE,
        SIGNAL_USER_MESSAGE,
        UPDATE_CONFIRM,
        UPDATE_REJECT,
        UPDATE_WAIT_TURNS,
        AgentRunInput,
        CompleteInput,
        DecisionInput,
        PendingAction,
        PlannedCall,
        RecordActionInput,
        RunState,
        RunToolInput,
        RunToolResult,
        Turn,
        UserMessageInput,
        WaitTurnsInput,
    )

_LLM_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3,
                         non_retryable_error_types=["llm_not_configured"])  # fmt: skip
_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=500), maximum_attempts=5)
# A side effect is attempted once: a retry after an unclear failure could send mail twice.
_ONCE = RetryPolicy(maximum_attempts=1)
MAX_REPEATS = 3


@workflow.defn(name="AgentRun")
class AgentRunWorkflow:
    def __init__(self) -> None:
        self._inp: AgentRunInput | None = None
        self._state = RunState()
        self._queue: list[str] = []
        self._closing = False  # releases long polls so the run can end or continue as new

    @workflow.run
    async def run(self, inp: AgentRunInput) -> RunState:
        self._inp = inp
        if inp.state is not None:
            self._state = inp.state
        if inp.message:
            self._queue.insert(0, inp.message)
        while True:
            self._state.status = "idle" if not self._queue else "thinking"
            try:
                await workflow.wait_condition(lambda: bool(self._queue),
                                              timeout=timedelta(seconds=inp.idle_timeout_seconds))  # fmt: skip
            except TimeoutError:
                break
            self._state.status = "thinking"
            self._turn("user", content=self._queue.pop(0))
            await self._answer(inp)
            if workflow.info().is_continue_as_new_suggested() and not self._queue:
                self._state.status, self._closing = "idle", True
                await workflow.wait_condition(workflow.all_handlers_finished)
                if not self._queue:  # a message signalled meanwhile is answered first
                    workflow.continue_as_new(inp.model_copy(update={"message": None, "state": self._state}))
                self._closing = False
        self._state.status = "finished"
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state

    # -- the loop -------------------------------------------------------------------------

    def _turn(self, role: str, **fields: object) -> Turn:
        turn = Turn(index=len(self._state.turns), role=role, at=workflow.now(), **fields)  # type: ignore[arg-type]
        self._state.turns.append(turn)
        return turn

    async def _answer(self, inp: AgentRunInput) -> None:
        seen: dict[str, int] = {}
        for _ in range(inp.max_steps):
            if self._state.tokens_used >= inp.token_budget:
                self._turn("error", content=f"stopped: the run's token budget ({inp.token_budget}) is used up")
                return
            try:
                step = await workflow.execute_activity_method(
                    AgentActivities.complete,
                    CompleteInput(run_id=inp.run_id, inbox_id=inp.inbox_id, principal=inp.principal,
                                  turns=self._state.turns),
                    start_to_close_timeout=timedelta(seconds=180), retry_policy=_LLM_RETRY,
                )  # fmt: skip
            except ActivityError as exc:
                self._turn("error", content=f"the model failed: {exc.cause or exc}")
                return
            self._state.steps += 1
            self._state.tokens_used += step.tokens
            self._turn("assistant", content=step.content, tool_calls=step.tool_calls)
            if not step.planned:
                return
            stop = False
            for call in step.planned:
                key = f"{call.name}:{json.dumps(call.arguments, sort_keys=True)}"
                seen[key] = seen.get(key, 0) + 1
                if stop or seen[key] >= MAX_REPEATS:
                    stop = True
                    self._tool_turn(call, {"error": {"code": "stopped", "message": "the same call was "
                                    "repeated; the run stopped this turn"}}, is_error=True)  # fmt: skip
                    continue
                await self._handle(inp, call, step.auto_approve)
            if stop:
                self._turn("error", content="stopped: the model kept repeating the same tool call")
                return
        self._turn("error", content=f"stopped: reached the maximum of {inp.max_steps} steps")

    def _tool_turn(self, call: PlannedCall, data: dict[str, object], *, is_error: bool,
                   action_id: str | None = None) -> None:  # fmt: skip
        self._turn("tool", content=json.dumps(data, default=str), tool_call_id=call.id, name=call.name,
                   is_error=is_error, action_id=action_id)  # fmt: skip

    async def _record(self, inp: AgentRunInput, action_id: str, call: PlannedCall, status: str) -> None:
        await workflow.execute_activity_method(
            AgentActivities.record_action,
            RecordActionInput(run_id=inp.run_id, inbox_id=inp.inbox_id, principal=inp.principal,
                              action_id=action_id, tool=call.name, status=status, arguments=call.arguments),
            start_to_close_timeout=timedelta(seconds=30), retry_policy=_RETRY,
        )  # fmt: skip

    async def _run_tool(self, inp: AgentRunInput, call: PlannedCall, action_id: str | None = None) -> RunToolResult:
        try:
            return await workflow.execute_activity_method(
                AgentActivities.run_tool,
                RunToolInput(run_id=inp.run_id, inbox_id=inp.inbox_id, principal=inp.principal,
                             tool=call.name, arguments=call.arguments, action_id=action_id),
                start_to_close_timeout=timedelta(seconds=call.timeout_seconds + 30),
                retry_policy=_ONCE if action_id else _RETRY,
            )  # fmt: skip
        except ActivityError as exc:
            return RunToolResult(is_error=True, data={"error": {"code": "tool_failed", "message": str(exc.cause or exc)}})

    async def _handle(self, inp: AgentRunInput, call: PlannedCall, auto_approve: bool) -> None:
        if call.verdict == "refused":
            # Not an action (nothing will run); its event is keyed by the turn that records it.
            turn_ref = f"turn_{len(self._state.turns)}"
            self._tool_turn(call, {"error": {"code": "invalid_tool_call", "message": call.error}}, is_error=True)
            await self._record(inp, turn_ref, call, "refused")
            return
        if call.verdict == "read":
            result = await self._run_tool(inp, call)
            self._tool_turn(call, result.data, is_error=result.is_error)
            return
        action = PendingAction(id=f"act_{len(self._state.actions) + 1}", tool=call.name, arguments=call.arguments,
                               tool_call_id=call.id, status="confirmed" if auto_approve else "pending",
                               auto_approved=auto_approve, created_at=workflow.now())  # fmt: skip
        self._state.actions.append(action)
        if not auto_approve:
            self._state.status = "awaiting_confirmation"
            await self._record(inp, action.id, call, "proposed")
            try:
                await workflow.wait_condition(lambda: action.status != "pending",
                                              timeout=timedelta(seconds=inp.confirm_timeout_seconds))  # fmt: skip
            except TimeoutError:
                action.status, action.decided_at = "expired", workflow.now()
            self._state.status = "thinking"
        await self._record(inp, action.id, call, action.status)
        if action.status != "confirmed":
            self._tool_turn(call, {"error": {"code": f"action_{action.status}", "message": f"the operator did not "
                            f"confirm this action ({action.status}); do not retry it"}}, is_error=True,
                            action_id=action.id)  # fmt: skip
            return
        result = await self._run_tool(inp, call, action.id)
        action.status = "failed" if result.is_error else "executed"
        action.result = result.data
        await self._record(inp, action.id, call, action.status)
        self._tool_turn(call, result.data, is_error=result.is_error, action_id=action.id)

    # -- messages from the API ------------------------------------------------------------

    @workflow.signal(name=SIGNAL_USER_MESSAGE)
    def user_message(self, inp: UserMessageInput) -> None:
        self._queue.append(inp.text)

    def _pending(self, action_id: str) -> PendingAction:
        for action in self._state.actions:
            if action.id == action_id:
                if action.status != "pending":
                    raise ValueError(f"action {action_id} is already {action.status}")
                return action
        raise KeyError(f"no action {action_id} in this run")

    def _decide(self, inp: DecisionInput, status: str) -> PendingAction:
        action = self._pending(inp.action_id)
        action.status, action.decided_at, action.decided_by = status, workflow.now(), inp.decided_by  # type: ignore[assignment]
        return action

    @workflow.update(name=UPDATE_CONFIRM)
    def confirm(self, inp: DecisionInput) -> PendingAction:
        return self._decide(inp, "confirmed")

    @confirm.validator
    def validate_confirm(self, inp: DecisionInput) -> None:
        self._pending(inp.action_id)

    @workflow.update(name=UPDATE_REJECT)
    def reject(self, inp: DecisionInput) -> PendingAction:
        return self._decide(inp, "rejected")

    @reject.validator
    def validate_reject(self, inp: DecisionInput) -> None:
        self._pending(inp.action_id)

    @workflow.update(name=UPDATE_WAIT_TURNS)
    async def wait_for_turns(self, inp: WaitTurnsInput) -> RunState:
        """Returns once there are more than `after` turns and the run has settled (waiting for the
        operator or the next message), or when it ended."""
        await workflow.wait_condition(
            lambda: self._closing or self._state.status == "finished" or (
                len(self._state.turns) > inp.after and self._state.status != "thinking" and not self._queue)
        )  # fmt: skip
        return self._state

    @workflow.query(name=QUERY_STATE)
    def get_state(self) -> RunState:
        return self._state
