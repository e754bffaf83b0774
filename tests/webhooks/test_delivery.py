"""Webhook delivery through the real worker, Temporal and PostgreSQL to a real loopback
receiver: events from SMTP mail, signatures checked with `standardwebhooks`, retries on the
workflow's schedule with the same webhook-id, timeouts, Retry-After, rotation, SSRF refusals."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from typing import Any

from standardwebhooks.webhooks import Webhook

from api.actions import webhooks as actions
from contracts.webhooks import DeliverWebhookResult
from settings import Settings
from store import webhook_deliveries
from store.base import utcnow
from tests.conftest import Tenant, create_inbox
from tests.helpers.eventually import eventually
from tests.helpers.receiver import Receiver, Reply, create_endpoint, create_org, emit_event
from tests.helpers.smtp import send_raw, simple_message
from workflows import ids
from workflows.webhook_delivery import WebhookDeliveryWorkflow


def fast(settings: Settings, schedule: str = "0.2s,0.2s,0.2s", **changes: Any) -> Settings:
    """Dispatch settings with a short schedule: the policy travels in the workflow input."""
    return settings.model_copy(update={"webhook_retry_schedule": schedule, **changes})


async def finished(temporal_env: Any, delivery_id: str) -> DeliverWebhookResult:
    handle = temporal_env.client.get_workflow_handle_for(
        WebhookDeliveryWorkflow.run, ids.webhook_delivery(delivery_id)
    )
    return await asyncio.wait_for(handle.result(), 30)


async def attempts(sessionmaker: Any, delivery_id: str) -> list[Any]:
    async with sessionmaker() as session:
        return await webhook_deliveries.attempts_of(session, delivery_id)


async def test_smtp_mail_delivers_signed_thread_and_message_events(
    api: Any, tenant: Tenant, ingress: Any, worker: Any, settings: Settings, sessionmaker: Any
) -> None:
    inbox = await create_inbox(api, tenant)
    async with Receiver() as receiver:
        _, secret = await create_endpoint(sessionmaker, settings, tenant.org_id, receiver.url)
        raw = simple_message(inbox["address"], subject="hooked", body="a webhook should follow")
        await send_raw(ingress.port, "bob@example.com", [inbox["address"]], raw)
        got = await receiver.wait_for(2)
    by_type = {r.json()["type"]: r for r in got}
    assert set(by_type) == {"thread.created", "message.received"}
    for request in got:
        body = Webhook(secret).verify(request.body, request.headers)
        assert request.webhook_id == body["id"] and body["id"].startswith("evt_")
        assert (body["org_id"], body["inbox_id"]) == (tenant.org_id, inbox["id"])
        assert set(body) == {"id", "type", "timestamp", "org_id", "inbox_id", "labels", "data"}
        assert request.headers["content-type"] == "application/json"
    message = by_type["message.received"].json()["data"]["message"]
    assert message["subject"] == "hooked"
    assert by_type["thread.created"].json()["data"]["thread"]["id"] == message["thread_id"]


async def test_receiver_down_then_failing_then_up_gets_one_webhook_id(
    worker: Any, settings: Settings, sessionmaker: Any, temporal_env: Any
) -> None:
    org_id = await create_org(sessionmaker)
    receiver = Receiver()  # not started yet: connections are refused
    _, secret = await create_endpoint(sessionmaker, settings, org_id, receiver.url)
    event_id = await emit_event(sessionmaker, org_id)
    (delivery_id,) = await actions.dispatch(sessionmaker, temporal_env.client,
                                            fast(settings, "0.3s,0.3s,0.3s,0.3s,0.3s"), [event_id])  # fmt: skip

    async def refused_once() -> bool:
        return len(await attempts(sessionmaker, delivery_id)) >= 1

    await eventually(refused_once)
    receiver.replies = [Reply(500), Reply(503)]
    async with receiver:
        result = await finished(temporal_env, delivery_id)
    assert (result.status, result.attempts) == ("succeeded", 4)
    assert [r.webhook_id for r in receiver.requests] == [event_id] * 3
    for request in receiver.requests:
        Webhook(secret).verify(request.body, request.headers)
    assert len({r.body for r in receiver.requests}) == 1  # the same envelope every time
    rows = await attempts(sessionmaker, delivery_id)
    assert [(a.attempt, a.status_code, a.success) for a in rows] == [
        (1, None, False), (2, 500, False), (3, 503, False), (4, 200, True)]  # fmt: skip
    assert rows[0].error.startswith("connect:") and rows[3].latency_ms is not None
    assert rows[1].response_body == "ok"
    async with sessionmaker() as session:
        delivery = await webhook_deliveries.get_delivery(session, org_id, delivery_id)
    assert (delivery.status, delivery.attempt_count, delivery.last_status_code) == ("succeeded", 4, 200)
    assert delivery.next_attempt_at is None and delivery.completed_at is not None


async def test_slow_receiver_times_out_and_is_retried(
    worker: Any, settings: Settings, sessionmaker: Any, temporal_env: Any
) -> None:
    org_id = await create_org(sessionmaker)
    async with Receiver() as receiver:
        receiver.replies = [Reply(200, delay=3)]
        await create_endpoint(sessionmaker, settings, org_id, receiver.url)
        event_id = await emit_event(sessionmaker, org_id)
        (delivery_id,) = await actions.dispatch(
            sessionmaker, temporal_env.client, fast(settings, webhook_timeout_seconds=0.5), [event_id]
        )
        result = await finished(temporal_env, delivery_id)
    assert (result.status, result.attempts) == ("succeeded", 2)
    first, second = await attempts(sessionmaker, delivery_id)
    assert first.error.startswith("timeout:") and first.status_code is None
    assert 450 <= first.latency_ms < 2000
    assert second.success and len(receiver.requests) == 2


async def test_retry_after_stretches_the_schedule(
    worker: Any, settings: Settings, sessionmaker: Any, temporal_env: Any
) -> None:
    org_id = await create_org(sessionmaker)
    async with Receiver() as receiver:
        receiver.replies = [Reply(503, headers={"Retry-After": "2"}), Reply(429, headers={"Retry-After": "1"})]
        await create_endpoint(sessionmaker, settings, org_id, receiver.url)
        event_id = await emit_event(sessionmaker, org_id)
        (delivery_id,) = await actions.dispatch(sessionmaker, temporal_env.client, fast(settings), [event_id])
        result = await finished(temporal_env, delivery_id)
    assert (result.status, result.attempts) == ("succeeded", 3)
    first, second, third = receiver.requests
    assert second.at - first.at >= 2.0  # the schedule said 0.2 s; the receiver asked for 2
    assert 1.0 <= third.at - second.at < 2.0
    rows = await attempts(sessionmaker, delivery_id)
    assert [a.status_code for a in rows] == [503, 429, 200]


async def test_rotation_overlap_sends_both_signatures_until_it_expires(
    worker: Any, settings: Settings, sessionmaker: Any, temporal_env: Any
) -> None:
    from crypto.webhook_signing import generate_secret

    org_id = await create_org(sessionmaker)
    old = generate_secret()
    async with Receiver() as rotating, Receiver() as expired:
        _, new = await create_endpoint(sessionmaker, settings, org_id, rotating.url, previous_secret=old,
                                       previous_expires_at=utcnow() + timedelta(hours=1))  # fmt: skip
        _, newest = await create_endpoint(sessionmaker, settings, org_id, expired.url, previous_secret=old,
                                          previous_expires_at=utcnow() - timedelta(seconds=1))  # fmt: skip
        event_id = await emit_event(sessionmaker, org_id)
        await actions.dispatch(sessionmaker, temporal_env.client, fast(settings), [event_id])
        (during,), (after,) = await rotating.wait_for(1), await expired.wait_for(1)
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    for secret in (new, old):  # a receiver on either secret accepts it
        assert Webhook(secret).verify(during.body, during.headers)["id"] == event_id
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    Webhook(newest).verify(after.body, after.headers)


async def test_unsafe_target_is_refused_and_recorded(
    settings: Settings, sessionmaker: Any, temporal_env: Any, superadmin_key: str
) -> None:
    from activities.deps import ActivityDeps
    from worker import build_worker

    # A worker run as shipped (no allowed networks), on its own task queue.
    strict = fast(settings, "", webhook_allow_networks="", task_queue=f"strict-{uuid.uuid4().hex[:6]}")
    org_id = await create_org(sessionmaker)
    deps = ActivityDeps.build(strict)
    try:
        async with Receiver() as receiver, build_worker(temporal_env.client, strict, deps):
            await create_endpoint(sessionmaker, settings, org_id, "http://169.254.169.254/latest/meta-data/")
            await create_endpoint(sessionmaker, settings, org_id, receiver.url)
            event_id = await emit_event(sessionmaker, org_id)
            delivery_ids = await actions.dispatch(sessionmaker, temporal_env.client, strict, [event_id])
            results = [await finished(temporal_env, d) for d in delivery_ids]
            assert receiver.requests == []
    finally:
        await deps.close()
    assert [(r.status, r.attempts) for r in results] == [("failed", 1), ("failed", 1)]  # schedule "": one try
    errors = " ".join([(await attempts(sessionmaker, d))[0].error for d in delivery_ids])
    assert "169.254.169.254 is a cloud metadata address" in errors
    assert "127.0.0.1 is a loopback address" in errors and errors.count("refused:") == 2


async def test_independent_endpoints_are_not_serialized(
    worker: Any, settings: Settings, sessionmaker: Any, temporal_env: Any
) -> None:
    org_id = await create_org(sessionmaker)
    async with Receiver() as slow, Receiver() as quick:
        slow.default = Reply(200, delay=3)
        await create_endpoint(sessionmaker, settings, org_id, slow.url)
        await create_endpoint(sessionmaker, settings, org_id, quick.url)
        started = time.monotonic()
        for _ in range(3):
            event_id = await emit_event(sessionmaker, org_id)
            await actions.dispatch(sessionmaker, temporal_env.client, fast(settings), [event_id])
        await quick.wait_for(3)
        assert time.monotonic() - started < 2.5  # not queued behind the slow endpoint
        await slow.wait_for(3)


async def test_unusable_secret_is_recorded_and_nothing_sent(
    worker: Any, settings: Settings, sessionmaker: Any, temporal_env: Any
) -> None:
    from sqlalchemy import update

    from crypto.sealing import seal
    from store.models import WebhookEndpoint

    org_id = await create_org(sessionmaker)
    async with Receiver() as receiver:
        endpoint_id, _ = await create_endpoint(sessionmaker, settings, org_id, receiver.url)
        async with sessionmaker.begin() as session:  # sealed under another master key
            await session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id).values(
                secret_sealed=seal(b"another-master-key", "whsec_" + "A" * 40, "webhook-secret")))  # fmt: skip
        event_id = await emit_event(sessionmaker, org_id)
        (delivery_id,) = await actions.dispatch(sessionmaker, temporal_env.client, fast(settings, ""), [event_id])
        assert (await finished(temporal_env, delivery_id)).status == "failed"
        assert receiver.requests == []
    (attempt,) = await attempts(sessionmaker, delivery_id)
    assert attempt.error == "cannot sign: the endpoint's secret is unusable (InvalidTag)"
