"""store/webhook_deliveries.py on SQLite, the dev default (PostgreSQL runs it in every other
webhook test): idempotent creation with filters, the attempt log and failure streak, finishing
once, disabling once, replay selection, pagination and health."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from store import events, orgs
from store import webhook_deliveries as wd
from store.base import new_id, utcnow
from store.engine import create_engine_for_url, create_sessionmaker
from store.migrate import upgrade_url
from store.models import WebhookEndpoint


def workflow_id(delivery_id: str) -> str:
    return f"WebhookDelivery/{delivery_id}"


@pytest.fixture(scope="module")
async def sm(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    """One migrated SQLite database for the module; each test works in an org of its own."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('hooks')}/hooks.db"
    await upgrade_url(url)
    engine = create_engine_for_url(url)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def setup(sm: Any) -> tuple[str, list[str], list[str]]:
    """An org with endpoints [all, thread.created only, inbox A only, disabled]; events
    [webhook.test in inbox A, webhook.test in inbox B]."""
    async with sm.begin() as s:
        org, _, _, _ = await orgs.create_organization(s, name="Lite", admin_email=None)
        specs: list[dict[str, Any]] = [{}, {"event_types": ["thread.created"]}, {"inbox_ids": ["inb_a"]},
                                       {"enabled": False}]  # fmt: skip
        sealed = "not used here"
        endpoints = [WebhookEndpoint(id=new_id("wh"), org_id=org.id, url="https://example.com/h",
                                     secret_sealed=sealed, **spec) for spec in specs]  # fmt: skip
        s.add_all(endpoints)
        await s.flush()
        evs = [await events.emit(s, org_id=org.id, inbox_id=inbox, type="webhook.test",
                                 resource_id=f"{org.id}/{inbox}", payload={})
               for inbox in ("inb_a", "inb_b")]  # fmt: skip
        return org.id, [e.id for e in endpoints], [e.id for e in evs]


async def test_creation_is_idempotent_and_filtered(sm: Any) -> None:
    org_id, (everything, threads_only, inbox_a, disabled), (in_a, in_b) = await setup(sm)
    async with sm.begin() as s:
        first = await wd.create_for_events(s, [in_a, in_b], workflow_id_for=workflow_id)
    async with sm.begin() as s:
        again = await wd.create_for_events(s, [in_b, in_a], workflow_id_for=workflow_id)
    assert sorted(d.id for d in first) == sorted(d.id for d in again)
    assert sorted((d.event_id, d.endpoint_id) for d in first) == sorted(
        [(in_a, everything), (in_b, everything), (in_a, inbox_a)])  # fmt: skip
    assert all(d.workflow_id == workflow_id(d.id) and d.status == "pending" for d in first)


async def test_attempts_streak_finish_and_disable(sm: Any) -> None:
    org_id, endpoints, (in_a, _) = await setup(sm)
    async with sm.begin() as s:
        created = await wd.create_for_events(s, [in_a], workflow_id_for=workflow_id)
        (delivery,) = [d for d in created if d.endpoint_id == endpoints[0]]
    now = utcnow()
    async with sm.begin() as s:
        since = await wd.record_attempt(s, delivery.id, endpoints[0], attempted_at=now, success=False,
                                        status_code=500, latency_ms=12, error="x" * 900, response_body="no",
                                        next_attempt_at=now + timedelta(seconds=5))  # fmt: skip
        later = await wd.record_attempt(s, delivery.id, endpoints[0], attempted_at=now + timedelta(seconds=5),
                                        success=False, status_code=502, latency_ms=30, error=None,
                                        response_body=None, next_attempt_at=None)  # fmt: skip
    assert since == now and later == now  # the streak keeps its first failure
    async with sm.begin() as s:
        ep = await s.get(WebhookEndpoint, endpoints[0])
        assert (ep.consecutive_failures, ep.failing_since) == (2, now)
        assert await wd.record_attempt(s, delivery.id, endpoints[0], attempted_at=now, success=True,
                                       status_code=200, latency_ms=50, error=None, response_body="ok",
                                       next_attempt_at=None) is None  # fmt: skip
    async with sm.begin() as s:
        ep = await s.get(WebhookEndpoint, endpoints[0])
        assert (ep.consecutive_failures, ep.failing_since) == (0, None)
        rows = await wd.attempts_of(s, delivery.id)
        assert [(a.attempt, a.status_code) for a in rows] == [(1, 500), (2, 502), (3, 200)]
        assert len(rows[0].error) == 500
        assert (await wd.finish(s, delivery.id, "succeeded")).status == "succeeded"
        assert (await wd.finish(s, delivery.id, "failed")).status == "succeeded"  # once
        assert (await wd.disable_endpoint(s, endpoints[0], "gone")) is not None
        assert (await wd.disable_endpoint(s, endpoints[0], "gone")) is None  # already
        assert await wd.finish(s, "whd_missing", "failed") is None
    async with sm() as s:
        report = await wd.health(s, org_id)
        got = await wd.get_delivery(s, org_id, delivery.id)
    assert (got.attempt_count, got.last_status_code) == (3, 200)
    health = report[endpoints[0]]
    assert (health.attempts, health.success_rate, health.p50_ms, health.p95_ms) == (3, 1 / 3, 30, 50)
    assert health.last_success_at == now and health.last_failure_at == now + timedelta(seconds=5)


async def test_replay_selection_reopens_and_pages(sm: Any) -> None:
    org_id, endpoints, (in_a, in_b) = await setup(sm)
    async with sm.begin() as s:
        created = await wd.create_for_events(s, [in_a], workflow_id_for=workflow_id)
        (done,) = [d for d in created if d.endpoint_id == endpoints[0]]
        await wd.finish(s, done.id, "failed")
    window = (utcnow() - timedelta(minutes=1), utcnow() + timedelta(minutes=1))
    async with sm.begin() as s:
        replayed = await wd.for_replay(s, org_id, endpoints[0], *window, limit=10, workflow_id_for=workflow_id)
        assert [d.event_id for d in replayed] == [in_a, in_b] and replayed[0].id == done.id
        assert {d.status for d in replayed} == {"pending"}
        only_a = await wd.for_replay(s, org_id, endpoints[2], *window, limit=10, workflow_id_for=workflow_id)
        assert [d.event_id for d in only_a] == [in_a]
    async with sm() as s:
        page = await wd.list_for_endpoint(s, org_id, endpoints[0], limit=1)
        rest = await wd.list_for_endpoint(s, org_id, endpoints[0], limit=1, after=page.next_after)
        assert [d.id for d in page.items + rest.items] == sorted((d.id for d in replayed), reverse=True)
        pending = await wd.pending_workflow_ids(s, org_id, endpoints[0])
        assert sorted(pending) == sorted(workflow_id(d.id) for d in replayed)
