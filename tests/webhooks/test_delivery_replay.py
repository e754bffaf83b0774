"""WebhookDelivery stays replay-compatible: histories the real worker produced (a retry with a
timer, plus whatever other webhook tests of this run left behind: 410s, cancellations, dead
deliveries) replay without non-determinism under the current workflow definitions."""

from __future__ import annotations

from typing import Any

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from api.actions import webhooks as actions
from settings import Settings
from tests.helpers.receiver import Receiver, Reply, create_endpoint, create_org, emit_event
from tests.webhooks.test_delivery import fast, finished
from workflows.registry import ALL_WORKFLOWS


async def test_delivery_histories_replay(
    worker: Any, settings: Settings, sessionmaker: Any, temporal_env: Any
) -> None:
    org_id = await create_org(sessionmaker)
    async with Receiver() as hooks:
        hooks.replies = [Reply(503, headers={"Retry-After": "1"})]
        await create_endpoint(sessionmaker, settings, org_id, hooks.url)
        event_id = await emit_event(sessionmaker, org_id)
        (delivery_id,) = await actions.dispatch(sessionmaker, temporal_env.client, fast(settings), [event_id])
        assert (await finished(temporal_env, delivery_id)).status == "succeeded"
    client = temporal_env.client
    runs = [w async for w in client.list_workflows("WorkflowType = 'WebhookDelivery'", limit=30)]
    closed = [w for w in runs if w.close_time is not None]
    histories = [await client.get_workflow_handle(w.id, run_id=w.run_id).fetch_history() for w in closed]

    async def as_stream() -> Any:
        for history in histories:
            yield history

    replayer = Replayer(workflows=ALL_WORKFLOWS, data_converter=pydantic_data_converter)
    results = await replayer.replay_workflows(as_stream(), raise_on_replay_failure=False)
    assert histories and results.replay_failures == {}
