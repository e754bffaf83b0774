"""Starting waits and awaiting their results.

The wait row is committed before the workflow starts, so the pipeline (which reads active
waits) and the workflow's look-back query between them cover every message: none slips
through the gap between "already arrived" and "arrives later".
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from api.auth import Principal
from contracts.waits import WaitFilters, WaitInput, WaitKind, WaitResult
from settings import Settings
from store import inboxes, waits
from store.base import utcnow
from temporal_client import LazyClient
from workflows import ids
from workflows.wait_for_mail import WaitForMailWorkflow


async def create(
    sessionmaker: async_sessionmaker[AsyncSession], principal: Principal, *, inbox_id: str,
    kind: WaitKind, filters: WaitFilters, since: datetime | None, timeout_seconds: float,
) -> WaitInput:  # fmt: skip
    now = utcnow()
    async with sessionmaker.begin() as session:
        inbox = await inboxes.get_inbox(session, principal.scope, inbox_id)
        row = waits.create_wait(
            session, org_id=inbox.org_id, inbox_id=inbox.id, kind=kind,
            filters=filters.model_dump(by_alias=True, exclude_none=True), since=since or now,
            expires_at=now + timedelta(seconds=timeout_seconds), workflow_id_for=ids.wait,
        )  # fmt: skip
        return WaitInput(
            wait_id=row.id, org_id=row.org_id, inbox_id=row.inbox_id, kind=kind, filters=filters,
            since=row.since, expires_at=row.expires_at,
        )  # fmt: skip


def _start_op(inp: WaitInput, settings: Settings) -> WithStartWorkflowOperation[Any, Any]:
    return WithStartWorkflowOperation(
        WaitForMailWorkflow.run, inp, id=ids.wait(inp.wait_id), task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )  # fmt: skip


async def start(temporal: LazyClient, settings: Settings, inp: WaitInput) -> None:
    client = await temporal.get()
    await client.start_workflow(
        WaitForMailWorkflow.run, inp, id=ids.wait(inp.wait_id), task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )  # fmt: skip


async def start_and_await(temporal: LazyClient, settings: Settings, inp: WaitInput) -> WaitResult:
    """One RPC starts the workflow and blocks in its `result` update until the wait ends."""
    client = await temporal.get()
    budget = (inp.expires_at - utcnow()).total_seconds() + 15
    return await client.execute_update_with_start_workflow(
        WaitForMailWorkflow.result, start_workflow_operation=_start_op(inp, settings),
        rpc_timeout=timedelta(seconds=max(budget, 15)),
    )  # fmt: skip


async def await_result(temporal: LazyClient, wait_id: str, seconds: float) -> WaitResult | None:
    """The result if the wait ends within `seconds` (a long poll), else None."""
    client = await temporal.get()
    handle = client.get_workflow_handle_for(WaitForMailWorkflow.run, ids.wait(wait_id))
    try:
        return await asyncio.wait_for(
            handle.execute_update(WaitForMailWorkflow.result,
                                  rpc_timeout=timedelta(seconds=seconds + 10)),
            timeout=seconds,
        )  # fmt: skip
    except TimeoutError:
        return None
