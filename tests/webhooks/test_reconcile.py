"""Deliveries are never lost between their row and their workflow, and a retry or replay of a
delivery that is still running says so instead of silently joining it. Real worker, Temporal,
PostgreSQL and a loopback receiver."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from httpx import AsyncClient
from temporalio.service import RPCError

from activities.deps import ActivityDeps
from activities.webhooks import DeliveryReconciler
from api.actions import webhooks as actions
from settings import Settings
from store import webhook_deliveries
from tests.conftest import Tenant
from tests.helpers.eventually import eventually
from tests.helpers.receiver import Receiver, Reply, create_endpoint, emit_event
from workflows import ids


async def test_reconciler_starts_a_delivery_whose_workflow_never_started(
    worker: Any, settings: Settings, sessionmaker: Any, temporal_env: Any, tenant: Tenant
) -> None:
    deps = ActivityDeps.build(settings)
    try:
        async with Receiver() as receiver:
            await create_endpoint(sessionmaker, settings, tenant.org_id, receiver.url)
            event_id = await emit_event(sessionmaker, tenant.org_id)
            # What dispatch leaves behind when the start after its commit failed: a pending row.
            async with sessionmaker.begin() as session:
                [row] = await webhook_deliveries.create_for_events(
                    session, [event_id], workflow_id_for=ids.webhook_delivery
                )
            try:
                await temporal_env.client.get_workflow_handle(row.workflow_id).describe()
                raise AssertionError("the workflow must not exist yet")
            except RPCError:
                pass
            reconciler = DeliveryReconciler(deps, temporal_env.client)
            # Not yet overdue by the default grace: a fresh row is left to its dispatcher.
            assert await reconciler.reconcile_once() == []
            assert await reconciler.reconcile_once(grace=timedelta(0)) == [row.id]
            [request] = await receiver.wait_for(1, timeout=30)
        assert request.webhook_id == event_id

        async def succeeded() -> bool:
            async with sessionmaker() as session:
                d = await webhook_deliveries.get_delivery(session, None, row.id)
            return d.status == "succeeded"

        await eventually(succeeded)
        # Finished: nothing left to reconcile, nothing sent twice.
        assert row.id not in await reconciler.reconcile_once(grace=timedelta(0))
        assert len(receiver.requests) == 1
    finally:
        await deps.close()


async def test_retry_and_replay_of_a_running_delivery_say_it_is_running(
    api: AsyncClient, worker: Any, settings: Settings, sessionmaker: Any, temporal_env: Any,
    tenant: Tenant,
) -> None:  # fmt: skip
    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    async with Receiver() as receiver:
        receiver.default = Reply(status=500, body=b"down")
        endpoint_id, _ = await create_endpoint(sessionmaker, settings, tenant.org_id, receiver.url)
        event_id = await emit_event(sessionmaker, tenant.org_id)
        # First attempt fails; the next one is an hour away: the workflow runs, sleeping.
        slow = settings.model_copy(update={"webhook_retry_schedule": "1h"})
        [delivery_id] = await actions.dispatch(sessionmaker, temporal_env.client, slow, [event_id])
        await receiver.wait_for(1, timeout=30)
        workflow_id = ids.webhook_delivery(delivery_id)
        try:
            r = await api.post(f"/v1/webhooks/deliveries/{delivery_id}/retry", headers=tenant.headers)
            assert r.status_code == 409, r.text
            body = r.json()
            assert body["code"] == "conflict" and workflow_id in body["message"]
            assert body["details"][0]["field"] == "delivery_id"
            assert body["details"][0]["workflow_id"] == workflow_id

            r = await api.post(f"/v1/webhooks/{endpoint_id}/replay", json={"since": since},
                               headers=tenant.headers)  # fmt: skip
            assert r.status_code == 202, r.text
            assert r.json()["already_running"] == [
                {"delivery_id": delivery_id, "workflow_id": workflow_id}
            ]
            # Still one run, still sleeping towards its second attempt: nothing was restarted.
            desc = await temporal_env.client.get_workflow_handle(workflow_id).describe()
            assert desc.status.name == "RUNNING"
            assert len(receiver.requests) == 1
        finally:
            await actions.cancel_pending(sessionmaker, temporal_env.client, tenant.org_id, endpoint_id)
