"""The full default retry schedule (5 s … 24 h, about three days) on the time-skipping test
server: against a receiver that always answers 500, a delivery makes all ten attempts, spaced
by the jittered schedule, and ends `failed` (dead), in seconds of real time."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from api.actions import webhooks as actions
from contracts.webhooks import parse_schedule
from settings import Settings
from store import webhook_deliveries
from tests.helpers.receiver import Receiver, Reply, create_endpoint, create_org, emit_event
from tests.workflows.test_long_timers import test_server_path as time_skipping_server
from workflows import ids
from workflows.webhook_delivery import WebhookDeliveryWorkflow


async def test_default_schedule_runs_ten_attempts_then_dies(
    settings: Settings, superadmin_key: str, sessionmaker: Any
) -> None:
    from activities.deps import ActivityDeps
    from worker import build_worker

    skipping = settings.model_copy(update={"task_queue": f"skip-{uuid.uuid4().hex[:6]}"})
    schedule = parse_schedule(skipping.webhook_retry_schedule)
    assert len(schedule) == 9 and sum(schedule) > 3 * 86400  # the shipped default
    org_id = await create_org(sessionmaker)
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=time_skipping_server(), data_converter=pydantic_data_converter
    )
    deps = ActivityDeps.build(skipping)
    try:
        async with Receiver() as hooks, build_worker(env.client, skipping, deps):
            hooks.default = Reply(500)
            await create_endpoint(sessionmaker, skipping, org_id, hooks.url)
            event_id = await emit_event(sessionmaker, org_id)
            (delivery_id,) = await actions.dispatch(sessionmaker, env.client, skipping, [event_id])
            handle = env.client.get_workflow_handle_for(WebhookDeliveryWorkflow.run,
                                                        ids.webhook_delivery(delivery_id))  # fmt: skip
            started = time.monotonic()
            # Handles the test client did not start do not skip time by themselves: skip it here.
            while (await handle.describe()).close_time is None:
                await env.sleep(timedelta(hours=6))
            result = await handle.result()
            elapsed = time.monotonic() - started
            history = await handle.fetch_history()
    finally:
        await deps.close()
        await env.shutdown()
    assert (result.status, result.attempts) == ("failed", 10)
    assert elapsed < 30
    assert [r.webhook_id for r in hooks.requests] == [event_id] * 10
    # Workflow time between attempts follows the schedule, with at most ±10 % jitter.
    timers = [e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta().total_seconds()
              for e in history.events if e.HasField("timer_started_event_attributes")]  # fmt: skip
    assert len(timers) == 9
    for fired, planned in zip(timers, schedule, strict=True):
        assert planned * 0.9 - 0.01 <= fired <= planned * 1.1 + 0.01
    async with sessionmaker() as session:
        delivery = await webhook_deliveries.get_delivery(session, org_id, delivery_id)
        rows = await webhook_deliveries.attempts_of(session, delivery_id)
    assert (delivery.status, delivery.attempt_count, delivery.next_attempt_at) == ("failed", 10, None)
    assert [a.status_code for a in rows] == [500] * 10
