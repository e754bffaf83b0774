"""What deliveries do to their endpoint, through the real worker: a 410 disables it and stops
its other deliveries, a failure streak longer than allowed disables it, each announced with a
`webhook.endpoint_disabled` event delivered to the org's other endpoints; canceling the
endpoint's pending deliveries ends them `canceled`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import CancelledError

from api.actions import webhooks as actions
from settings import Settings
from store import webhook_deliveries
from store.base import utcnow
from store.models import Event, WebhookDelivery, WebhookEndpoint
from tests.helpers.eventually import eventually
from tests.helpers.receiver import Receiver, Reply, create_endpoint, create_org, emit_event
from tests.webhooks.test_delivery import attempts, fast, finished
from workflows import ids


async def endpoint_row(sessionmaker: Any, endpoint_id: str) -> WebhookEndpoint:
    async with sessionmaker() as session:
        row = await session.get(WebhookEndpoint, endpoint_id)
        assert row is not None
        return row


async def disabled_events(sessionmaker: Any, org_id: str) -> list[Event]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(Event).where(
            Event.org_id == org_id, Event.type == "webhook.endpoint_disabled"))).all())  # fmt: skip


async def test_gone_disables_the_endpoint_and_stops_its_deliveries(
    worker: Any, settings: Settings, sessionmaker: Any, temporal_env: Any
) -> None:
    org_id = await create_org(sessionmaker)
    gone_event = await emit_event(sessionmaker, org_id)
    async with Receiver() as hooks, Receiver() as watcher:
        hooks.respond = lambda r: Reply(410) if r.webhook_id == gone_event else Reply(500)
        endpoint_id, _ = await create_endpoint(sessionmaker, settings, org_id, hooks.url)
        await create_endpoint(sessionmaker, settings, org_id, watcher.url,
                              event_types=["webhook.endpoint_disabled"])  # fmt: skip
        # A delivery already retrying when the 410 arrives: its next attempt must not happen.
        retrying_event = await emit_event(sessionmaker, org_id)
        (retrying,) = await actions.dispatch(sessionmaker, temporal_env.client,
                                             fast(settings, "1s,1s,1s"), [retrying_event])  # fmt: skip
        await eventually(lambda: attempts(sessionmaker, retrying))
        (gone,) = await actions.dispatch(sessionmaker, temporal_env.client, fast(settings), [gone_event])
        assert (await finished(temporal_env, gone)).status == "failed"
        assert (await finished(temporal_env, retrying)).status == "canceled"
        (announced,) = await watcher.wait_for(1)
        assert [r.webhook_id for r in hooks.requests] == [retrying_event, gone_event]
    endpoint = await endpoint_row(sessionmaker, endpoint_id)
    assert not endpoint.enabled and "410" in (endpoint.disabled_reason or "")
    (event,) = await disabled_events(sessionmaker, org_id)
    assert announced.json()["type"] == "webhook.endpoint_disabled" and announced.webhook_id == event.id
    assert announced.json()["data"] == {"endpoint_id": endpoint_id, "url": hooks.url,
                                        "reason": "the endpoint answered 410 Gone"}  # fmt: skip
    # A disabled endpoint gets no new deliveries.
    later = await emit_event(sessionmaker, org_id)
    assert await actions.dispatch(sessionmaker, temporal_env.client, fast(settings), [later]) == []


async def test_endpoint_failing_too_long_is_disabled(
    worker: Any, settings: Settings, sessionmaker: Any, temporal_env: Any
) -> None:
    org_id = await create_org(sessionmaker)
    async with Receiver() as hooks:
        hooks.default = Reply(500)
        endpoint_id, _ = await create_endpoint(sessionmaker, settings, org_id, hooks.url)
        async with sessionmaker.begin() as session:  # it has been failing for six days
            await session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id).values(
                failing_since=utcnow() - timedelta(days=6), consecutive_failures=250))  # fmt: skip
        event_id = await emit_event(sessionmaker, org_id)
        (delivery_id,) = await actions.dispatch(sessionmaker, temporal_env.client, fast(settings), [event_id])
        result = await finished(temporal_env, delivery_id)
    assert (result.status, result.attempts) == ("failed", 1)  # no further attempts after disabling
    endpoint = await endpoint_row(sessionmaker, endpoint_id)
    assert not endpoint.enabled and endpoint.consecutive_failures == 251
    assert (endpoint.disabled_reason or "").startswith("failing continuously since")
    (event,) = await disabled_events(sessionmaker, org_id)
    assert event.payload["endpoint_id"] == endpoint_id


async def test_success_ends_a_failure_streak(
    worker: Any, settings: Settings, sessionmaker: Any, temporal_env: Any
) -> None:
    org_id = await create_org(sessionmaker)
    async with Receiver() as hooks:
        hooks.replies = [Reply(500), Reply(500)]
        endpoint_id, _ = await create_endpoint(sessionmaker, settings, org_id, hooks.url)
        event_id = await emit_event(sessionmaker, org_id)
        (delivery_id,) = await actions.dispatch(sessionmaker, temporal_env.client, fast(settings), [event_id])
        await eventually(lambda: _streak(sessionmaker, endpoint_id, 2))
        assert (await finished(temporal_env, delivery_id)).status == "succeeded"
    endpoint = await endpoint_row(sessionmaker, endpoint_id)
    assert (endpoint.enabled, endpoint.consecutive_failures, endpoint.failing_since) == (True, 0, None)


async def _streak(sessionmaker: Any, endpoint_id: str, n: int) -> bool:
    return (await endpoint_row(sessionmaker, endpoint_id)).consecutive_failures >= n


async def test_cancel_pending_ends_waiting_and_running_deliveries_canceled(
    worker: Any, settings: Settings, sessionmaker: Any, temporal_env: Any
) -> None:
    org_id = await create_org(sessionmaker)
    down = Receiver()  # never started
    endpoint_id, _ = await create_endpoint(sessionmaker, settings, org_id, down.url,
                                           event_types=["webhook.test"])  # fmt: skip
    events = [await emit_event(sessionmaker, org_id) for _ in range(2)]
    delivery_ids = await actions.dispatch(sessionmaker, temporal_env.client, fast(settings, "1h"), events)

    async def all_waiting() -> bool:
        return all([await attempts(sessionmaker, d) for d in delivery_ids])

    await eventually(all_waiting)
    canceled = await actions.cancel_pending(sessionmaker, temporal_env.client, org_id, endpoint_id)
    assert sorted(canceled) == sorted(ids.webhook_delivery(d) for d in delivery_ids)
    async with Receiver() as slow:  # canceled while its attempt is in flight
        slow.default = Reply(200, delay=5)
        slow_endpoint, _ = await create_endpoint(sessionmaker, settings, org_id, slow.url,
                                                 event_types=["domain.verified"])  # fmt: skip
        event_id = await emit_event(sessionmaker, org_id, type_="domain.verified")
        (running,) = await actions.dispatch(sessionmaker, temporal_env.client, fast(settings, "1h"),
                                            [event_id])  # fmt: skip
        await slow.wait_for(1)
        await actions.cancel_pending(sessionmaker, temporal_env.client, org_id, slow_endpoint)
        delivery_ids.append(running)
    for delivery_id in delivery_ids:
        with pytest.raises(WorkflowFailureError) as err:
            await finished(temporal_env, delivery_id)
        assert isinstance(err.value.cause, CancelledError)
    async with sessionmaker() as session:
        rows = (await session.scalars(select(WebhookDelivery).where(WebhookDelivery.id.in_(delivery_ids)))).all()
        assert {r.status for r in rows} == {"canceled"} and all(r.next_attempt_at is None for r in rows)
        assert await webhook_deliveries.pending_workflow_ids(session, org_id, endpoint_id) == []
