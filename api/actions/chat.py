"""Agent chat service functions: start or continue an AgentRun, read it (optionally long-poll),
and decide its pending actions. The REST routes (api/routes/chat.py) are thin over these."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from api.auth import Principal
from api.errors import ApiError
from contracts import errors
from contracts.chat import LLM_NOT_CONFIGURED, AgentRunInput, DecisionInput, RunPrincipal, RunState, UserMessageInput, WaitTurnsInput
from settings import Settings
from store import agent_runs, inboxes
from store.models import AgentRun
from temporal_client import LazyClient
from workflows import ids
from workflows.agent_run import AgentRunWorkflow


def snapshot(p: Principal) -> RunPrincipal:
    return RunPrincipal(
        key_id=p.key_id, user_id=p.user_id, org_id=p.org_id, role=p.role, scopes=sorted(p.scopes),
        department_id=p.scope.department_id, restrict_to_department=p.scope.restrict_to_department,
        inbox_ids=sorted(p.scope.inbox_ids) if p.scope.inbox_ids is not None else None,
    )  # fmt: skip


def _check_llm(settings: Settings) -> None:
    if not settings.llm_model:
        raise ApiError(503, LLM_NOT_CONFIGURED, "no LLM is configured (POSTFLOW_LLM_MODEL)")


def _may_act_on(principal: Principal, run: AgentRun) -> None:
    # Only the key that started a run (or an org admin) may talk to it or decide its actions,
    # so a run never acts for a key other than the one whose scopes it recorded.
    if run.key_id != principal.key_id and not principal.is_admin:
        raise ApiError(403, errors.FORBIDDEN, "only the API key that started this run (or an admin) may do this",
                       [{"field": "run_id", "message": "started by another key"}])  # fmt: skip


async def start(
    sessionmaker: async_sessionmaker[AsyncSession], temporal: LazyClient, settings: Settings,
    principal: Principal, *, inbox_id: str, message: str, max_steps: int, token_budget: int,
) -> AgentRun:  # fmt: skip
    async with sessionmaker.begin() as db:
        inbox = await inboxes.get_inbox(db, principal.scope, inbox_id)  # a 404 before the 503
        _check_llm(settings)
        run = agent_runs.create(db, org_id=principal.org_id, inbox_id=inbox.id, key_id=principal.key_id,
                                scopes=sorted(principal.scopes), workflow_id_for=ids.agent_run)  # fmt: skip
    inp = AgentRunInput(run_id=run.id, inbox_id=run.inbox_id, principal=snapshot(principal), message=message,
                        max_steps=max_steps, token_budget=token_budget)  # fmt: skip
    client = await temporal.get()
    await client.start_workflow(AgentRunWorkflow.run, inp, id=run.workflow_id, task_queue=settings.task_queue,
                                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)  # fmt: skip
    return run


async def get_run(sessionmaker: async_sessionmaker[AsyncSession], principal: Principal, run_id: str) -> AgentRun:
    async with sessionmaker() as db:
        return await agent_runs.get(db, principal.scope, run_id)


async def _handle(temporal: LazyClient, run: AgentRun) -> WorkflowHandle[Any, Any]:
    client = await temporal.get()
    return client.get_workflow_handle_for(AgentRunWorkflow.run, run.workflow_id)


async def continue_run(
    sessionmaker: async_sessionmaker[AsyncSession], temporal: LazyClient, settings: Settings,
    principal: Principal, *, run_id: str, inbox_id: str, message: str,
) -> AgentRun:  # fmt: skip
    run = await get_run(sessionmaker, principal, run_id)
    _check_llm(settings)
    if run.inbox_id != inbox_id:
        raise ApiError(400, errors.VALIDATION_ERROR, "the conversation belongs to another inbox",
                       [{"field": "inbox_id", "message": f"conversation is on {run.inbox_id}"}])  # fmt: skip
    _may_act_on(principal, run)
    handle = await _handle(temporal, run)
    try:
        await handle.signal(AgentRunWorkflow.user_message, UserMessageInput(text=message))
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:  # the run ended (idle too long): start a new one
            raise ApiError(409, "run_finished", "this conversation has ended; start a new one",
                           [{"field": "conversation_id", "message": "finished"}]) from exc  # fmt: skip
        raise
    return run


async def state(temporal: LazyClient, run: AgentRun, *, wait: int, after: int) -> RunState:
    """The run's live state; with `wait`, first waits up to that long for news after `after`."""
    handle = await _handle(temporal, run)
    if wait:
        try:
            return await asyncio.wait_for(
                handle.execute_update(AgentRunWorkflow.wait_for_turns, WaitTurnsInput(after=after),
                                      rpc_timeout=timedelta(seconds=wait + 10)), timeout=wait)  # fmt: skip
        except (TimeoutError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError):
            pass  # nothing new in time (the poll was cancelled): the query answers the current state
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:  # NOT_FOUND: it completed; the query answers
                raise
    return await handle.query(AgentRunWorkflow.get_state)


async def decide(temporal: LazyClient, principal: Principal, run: AgentRun, action_id: str, confirm: bool) -> Any:
    _may_act_on(principal, run)
    handle = await _handle(temporal, run)
    update = AgentRunWorkflow.confirm if confirm else AgentRunWorkflow.reject
    try:
        return await handle.execute_update(update, DecisionInput(action_id=action_id, decided_by=principal.key_id))
    except WorkflowUpdateFailedError as exc:  # the update's validator refused it
        cause = exc.cause
        message = str(getattr(cause, "message", cause)).strip("'\"")
        status, code = (404, errors.NOT_FOUND) if getattr(cause, "type", "") == "KeyError" else (409, errors.CONFLICT)
        raise ApiError(status, code, message, [{"field": "action_id", "message": message}]) from exc
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise ApiError(409, "run_finished", "this run has ended", [{"field": "run_id", "message": "finished"}]) from exc
        raise
