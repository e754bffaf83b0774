"""Durability across a crash: a worker OS process (`python -m commands worker`) is SIGKILLed
while 100 deliveries are pending against a receiver that is down (some waiting to retry, some
mid-attempt, some not yet tried); a new worker process delivers every one of them once the
receiver is back. Nothing is lost."""

from __future__ import annotations

import asyncio
import signal
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from api.actions import webhooks as actions
from settings import Settings
from store.models import WebhookDelivery
from tests.helpers.eventually import eventually
from tests.helpers.processes import base_env, spawn, stop
from tests.helpers.receiver import Receiver, create_endpoint, create_org, emit_event

DELIVERIES = 100


async def test_worker_killed_with_100_pending_deliveries_loses_none(
    settings: Settings, superadmin_key: str, sessionmaker: Any, temporal_env: Any, tmp_path: Path
) -> None:
    queue = f"kill-{uuid.uuid4().hex[:8]}"
    assert settings.master_key is not None
    env = base_env(
        POSTFLOW_DATABASE_URL=settings.database_url,
        POSTFLOW_TEMPORAL_ADDRESS=settings.temporal_address,
        # Its own task queue: only the worker processes started here run these deliveries.
        POSTFLOW_TASK_QUEUE=queue,
        POSTFLOW_DATA_DIR=str(tmp_path / "data"),
        POSTFLOW_MASTER_KEY=settings.master_key.get_secret_value(),
        POSTFLOW_WEBHOOK_ALLOW_HTTP="true",
        POSTFLOW_WEBHOOK_ALLOW_NETWORKS="127.0.0.0/8",
        POSTFLOW_LOG_LEVEL="WARNING",
    )
    # Retries every 2 s, many times: no delivery runs out of attempts before the receiver is
    # back, however slowly the first worker gets through its first attempts. Attempts caught
    # mid-request by the kill time out (1 s + margin) and count as failed.
    dispatcher = settings.model_copy(update={
        "task_queue": queue, "webhook_retry_schedule": ",".join(["2s"] * 40),
        "webhook_timeout_seconds": 1.0,
    })  # fmt: skip
    org_id = await create_org(sessionmaker, "Crash")
    receiver = Receiver()  # down: its port is chosen, nothing listens yet
    await create_endpoint(sessionmaker, settings, org_id, receiver.url)
    event_ids = [await emit_event(sessionmaker, org_id) for _ in range(DELIVERIES)]

    first = spawn("worker", env, tmp_path / "worker-1.log")
    second = None
    try:
        delivery_ids = await actions.dispatch(sessionmaker, temporal_env.client, dispatcher, event_ids)
        assert len(set(delivery_ids)) == DELIVERIES

        async def failed_once() -> int:
            async with sessionmaker() as session:
                return int(await session.scalar(select(func.count()).where(
                    WebhookDelivery.id.in_(delivery_ids), WebhookDelivery.attempt_count >= 1,
                    WebhookDelivery.status == "pending")) or 0)  # fmt: skip

        # Killed at an arbitrary point of the first round of attempts.
        await eventually(lambda: _at_least(failed_once, DELIVERIES // 4), timeout=60, interval=0.1)
        first.send_signal(signal.SIGKILL)
        assert await asyncio.to_thread(first.wait, 10) == -signal.SIGKILL

        async with receiver:
            second = spawn("worker", env, tmp_path / "worker-2.log")

            async def all_received() -> bool:
                return len({r.webhook_id for r in receiver.requests}) >= DELIVERIES

            await eventually(all_received, timeout=90, interval=0.2)
            assert {r.webhook_id for r in receiver.requests} == set(event_ids)

            async def all_succeeded() -> bool:
                async with sessionmaker() as session:
                    done = await session.scalar(select(func.count()).where(
                        WebhookDelivery.id.in_(delivery_ids), WebhookDelivery.status == "succeeded"))  # fmt: skip
                return done == DELIVERIES

            await eventually(all_succeeded, timeout=30, interval=0.2)
    finally:
        codes = stop([p for p in (first, second) if p is not None])
    assert codes[-1] == 0, (tmp_path / "worker-2.log").read_text()[-2000:]


async def _at_least(count: Any, n: int) -> bool:
    return bool(await count() >= n)
