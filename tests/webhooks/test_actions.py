"""The operations the webhook API builds on, through the real worker: dispatch is idempotent
(a retried dispatch neither duplicates nor re-sends), a finished delivery can be retried, a
time range replayed to one endpoint, and deliveries, attempts and endpoint health read back."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from api.actions import webhooks as actions
from settings import Settings
from store import webhook_deliveries
from store.base import utcnow
from store.errors import Conflict, NotFound
from tests.helpers.receiver import Receiver, Reply, create_endpoint, create_org, emit_event
from tests.webhooks.test_delivery import attempts, fast, finished
from workflows import ids


async def test_dispatch_twice_delivers_once(
    worker: Any, settings: Settings, sessionmaker: Any, temporal_env: Any
) -> None:
    org_id = await create_org(sessionmaker)
    async with Receiver() as hooks, Receiver() as other:
        await create_endpoint(sessionmaker, settings, org_id, hooks.url)
        # Filters: another type only, and another inbox only: neither gets this event.
        await create_endpoint(sessionmaker, settings, org_id, other.url, event_types=["thread.created"])
        await create_endpoint(sessionmaker, settings, org_id, other.url, inbox_ids=["inb_elsewhere"])
        event_id = await emit_event(sessionmaker, org_id, inbox_id="inb_here")
        first = await actions.dispatch(sessionmaker, temporal_env.client, fast(settings), [event_id])
        again = await actions.dispatch(sessionmaker, temporal_env.client, fast(settings), [event_id])
        assert first == again and len(first) == 1
        assert (await finished(temporal_env, first[0])).status == "succeeded"
        # Dispatched once more after it finished (an activity retried late): nothing is re-sent.
        assert await actions.dispatch(sessionmaker, temporal_env.client, fast(settings), [event_id]) == first
        await finished(temporal_env, first[0])
        assert len(hooks.requests) == 1 and other.requests == []


async def test_retry_runs_a_dead_delivery_again(
    worker: Any, settings: Settings, sessionmaker: Any, temporal_env: Any
) -> None:
    org_id = await create_org(sessionmaker)
    other_org = await create_org(sessionmaker, "Other")
    async with Receiver() as hooks:
        hooks.replies = [Reply(500), Reply(500)]
        await create_endpoint(sessionmaker, settings, org_id, hooks.url)
        event_id = await emit_event(sessionmaker, org_id)
        (delivery_id,) = await actions.dispatch(sessionmaker, temporal_env.client, fast(settings, "0.1s"), [event_id])
        assert (await finished(temporal_env, delivery_id)).status == "failed"  # dead: 2 attempts
        with pytest.raises(NotFound):
            await actions.retry_delivery(sessionmaker, temporal_env.client, settings, delivery_id, org_id=other_org)
        workflow_id = await actions.retry_delivery(sessionmaker, temporal_env.client, fast(settings), delivery_id,
                                                   org_id=org_id)  # fmt: skip
        assert workflow_id == ids.webhook_delivery(delivery_id)
        result = await finished(temporal_env, delivery_id)
    assert (result.status, result.attempts) == ("succeeded", 1)
    assert [r.webhook_id for r in hooks.requests] == [event_id] * 3
    # The attempt log continues across runs.
    assert [(a.attempt, a.status_code) for a in await attempts(sessionmaker, delivery_id)] == [
        (1, 500), (2, 500), (3, 200)]  # fmt: skip
    async with sessionmaker() as session:
        delivery = await webhook_deliveries.get_delivery(session, org_id, delivery_id)
        assert (delivery.status, delivery.attempt_count) == ("succeeded", 3)
        with pytest.raises(NotFound):
            await webhook_deliveries.get_delivery(session, other_org, delivery_id)


async def test_replay_redelivers_a_time_range_to_one_endpoint(
    worker: Any, settings: Settings, sessionmaker: Any, temporal_env: Any
) -> None:
    org_id = await create_org(sessionmaker)
    before = await emit_event(sessionmaker, org_id)
    since = utcnow()
    async with Receiver() as hooks, Receiver() as bystander:
        endpoint_id, _ = await create_endpoint(sessionmaker, settings, org_id, hooks.url)
        await create_endpoint(sessionmaker, settings, org_id, bystander.url)
        delivered = await emit_event(sessionmaker, org_id)
        for delivery_id in await actions.dispatch(sessionmaker, temporal_env.client, fast(settings), [delivered]):
            await finished(temporal_env, delivery_id)
        never_dispatched = await emit_event(sessionmaker, org_id)
        until = utcnow() + timedelta(seconds=1)
        replayed = await actions.replay(sessionmaker, temporal_env.client, fast(settings), org_id,
                                        endpoint_id, since, until)  # fmt: skip
        assert len(replayed) == 2
        for delivery_id in replayed:
            assert (await finished(temporal_env, delivery_id)).status == "succeeded"
        assert sorted(r.webhook_id for r in hooks.requests) == sorted([delivered, delivered, never_dispatched])
        assert before not in {r.webhook_id for r in hooks.requests}
        assert len(bystander.requests) == 1  # the other endpoint is not replayed to
        with pytest.raises(NotFound):
            await actions.replay(sessionmaker, temporal_env.client, settings, "org_unknown", endpoint_id,
                                 since, until)  # fmt: skip
    gone_org = await create_org(sessionmaker)
    async with Receiver() as gone:
        gone.default = Reply(410)
        gone_id, _ = await create_endpoint(sessionmaker, settings, gone_org, gone.url)
        event_id = await emit_event(sessionmaker, gone_org)
        (d,) = await actions.dispatch(sessionmaker, temporal_env.client, fast(settings), [event_id])
        await finished(temporal_env, d)
    with pytest.raises(Conflict):
        await actions.replay(sessionmaker, temporal_env.client, settings, gone_org, gone_id, since, until)


async def test_lists_attempts_and_health(
    worker: Any, settings: Settings, sessionmaker: Any, temporal_env: Any
) -> None:
    org_id = await create_org(sessionmaker)
    async with Receiver() as hooks, Receiver() as idle:
        hooks.replies = [Reply(503, body=b"x" * 5000)]
        endpoint_id, _ = await create_endpoint(sessionmaker, settings, org_id, hooks.url)
        idle_id, _ = await create_endpoint(sessionmaker, settings, org_id, idle.url, event_types=["domain.verified"])
        events = [await emit_event(sessionmaker, org_id) for _ in range(3)]
        delivery_ids = await actions.dispatch(sessionmaker, temporal_env.client, fast(settings), events)
        for delivery_id in delivery_ids:
            await finished(temporal_env, delivery_id)
    async with sessionmaker() as session:
        page = await webhook_deliveries.list_for_endpoint(session, org_id, endpoint_id, limit=2)
        rest = await webhook_deliveries.list_for_endpoint(session, org_id, endpoint_id, limit=2,
                                                          after=page.next_after)  # fmt: skip
        listed = [d.id for d in page.items + rest.items]
        assert listed == sorted(delivery_ids, reverse=True) and rest.next_after is None
        assert (await webhook_deliveries.list_for_endpoint(session, "org_other", endpoint_id, 10, None)).items == []
        all_attempts = [a for d in delivery_ids for a in await webhook_deliveries.attempts_of(session, d)]
        failed = [a for a in all_attempts if not a.success]
        assert len(failed) == 1 and len(failed[0].response_body) == 2048  # stored truncated
        report = await webhook_deliveries.health(session, org_id)
    health = report[endpoint_id]
    assert (health.attempts, health.success_rate) == (4, 0.75)
    assert health.p50_ms is not None and health.p95_ms is not None and health.p50_ms <= health.p95_ms
    assert health.consecutive_failures == 0 and health.failing_since is None
    assert health.last_success_at is not None and health.last_failure_at is not None
    assert report[idle_id].attempts == 0 and report[idle_id].success_rate is None
