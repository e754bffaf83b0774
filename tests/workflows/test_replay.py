"""Workflow code stays replay-compatible: histories produced by the real pipeline and waits
replay without non-determinism under the current workflow definitions."""

from __future__ import annotations

import asyncio
from typing import Any

from httpx import AsyncClient
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.conftest import Tenant, create_inbox
from tests.helpers.eventually import eventually
from tests.helpers.smtp import send_raw, simple_message
from workflows.registry import ALL_WORKFLOWS


async def test_pipeline_and_wait_histories_replay(
    api: AsyncClient, tenant: Tenant, ingress: Any, worker: Any, temporal_env: Any
) -> None:
    inbox = await create_inbox(api, tenant)
    waiting = asyncio.create_task(api.get(f"/v1/inboxes/{inbox['id']}/otp", params={"timeout": 30},
                                          headers=tenant.headers))  # fmt: skip
    await asyncio.sleep(0.5)
    await send_raw(ingress.port, "bob@example.com", [inbox["address"]],
                   simple_message(inbox["address"], subject="code", body="Your code is 314159"))  # fmt: skip
    r = await waiting
    assert r.status_code == 200, r.text
    client = temporal_env.client

    async def finished_runs() -> list[Any] | None:
        q = "WorkflowType in ('InboundMail', 'WaitForMail') AND ExecutionStatus = 'Completed'"
        runs = [w async for w in client.list_workflows(q)]
        types = {w.workflow_type for w in runs}
        return runs if types == {"InboundMail", "WaitForMail"} else None

    runs = await eventually(finished_runs, timeout=30)
    histories = [await client.get_workflow_handle(w.id, run_id=w.run_id).fetch_history() for w in runs[:20]]
    replayer = Replayer(workflows=ALL_WORKFLOWS, data_converter=pydantic_data_converter)
    async def as_stream() -> Any:
        for h in histories:
            yield h

    results = await replayer.replay_workflows(as_stream(), raise_on_replay_failure=False)
    assert len(histories) >= 2 and results.replay_failures == {}
