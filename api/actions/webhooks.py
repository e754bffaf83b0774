"""Starting webhook deliveries: dispatching events, retrying one delivery, replaying a time
range, canceling an endpoint's pending deliveries. The REST routes and the `webhooks.dispatch`
activity call these same functions.

Rows are committed before workflows start (the attempt activity reads them). A dispatch
starts `WebhookDelivery/{delivery_id}` with USE_EXISTING and REJECT_DUPLICATE, so a retried
dispatch neither duplicates a running delivery nor re-sends a finished one; retry and replay
allow a new run of a finished workflow id on purpose.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from contracts.webhooks import DeliverWebhookInput, DeliveryPolicy, parse_schedule
from settings import Settings
from store import webhook_deliveries
from temporal_client import LazyClient
from workflows import ids
from workflows.webhook_delivery import WebhookDeliveryWorkflow

# Concurrent workflow starts of one call (a replay may start a thousand).
MAX_CONCURRENT_STARTS = 32
MAX_RETRY_AFTER_SECONDS = 24 * 3600.0


def delivery_policy(settings: Settings) -> DeliveryPolicy:
    """The policy a delivery dispatched now runs under (it travels in the workflow input)."""
    return DeliveryPolicy(
        schedule_seconds=parse_schedule(settings.webhook_retry_schedule),
        timeout_seconds=settings.webhook_timeout_seconds,
        disable_after_seconds=settings.webhook_disable_after_days * 86400,
        max_retry_after_seconds=MAX_RETRY_AFTER_SECONDS,
    )


async def dispatch(
    sessionmaker: async_sessionmaker[AsyncSession], temporal_client: Client | LazyClient,
    settings: Settings, event_ids: Sequence[str],
) -> list[str]:  # fmt: skip
    """Create the deliveries of these events to every subscribed endpoint and start their
    workflows; returns every delivery id of the events (idempotent)."""
    policy = delivery_policy(settings)
    async with sessionmaker.begin() as session:
        deliveries = await webhook_deliveries.create_for_events(
            session, event_ids, workflow_id_for=ids.webhook_delivery
        )
        pending = [d.id for d in deliveries if d.status == webhook_deliveries.PENDING]
        delivery_ids = [d.id for d in deliveries]
    await _start_all(temporal_client, settings, pending, policy, rerun=False)
    return delivery_ids


async def retry_delivery(
    sessionmaker: async_sessionmaker[AsyncSession], temporal_client: Client | LazyClient,
    settings: Settings, delivery_id: str, *, org_id: str | None = None,
) -> str:  # fmt: skip
    """Run a finished (succeeded, failed or canceled) delivery again from a fresh schedule;
    a pending one keeps its running workflow. Returns the workflow id. With `org_id`, another
    organization's delivery is NotFound."""
    async with sessionmaker.begin() as session:
        delivery = await webhook_deliveries.get_delivery(session, org_id, delivery_id)
        webhook_deliveries.reopen(delivery)
    policy = delivery_policy(settings)
    await _start_all(temporal_client, settings, [delivery_id], policy, rerun=True)
    return ids.webhook_delivery(delivery_id)


async def replay(
    sessionmaker: async_sessionmaker[AsyncSession], temporal_client: Client | LazyClient,
    settings: Settings, org_id: str, endpoint_id: str, since: datetime, until: datetime,
    limit: int = 1000,
) -> list[str]:  # fmt: skip
    """Deliver the org's events of [since, until) that the endpoint subscribes to again (at
    most `limit`, oldest first); returns their delivery ids. NotFound for an unknown endpoint,
    Conflict for a disabled one."""
    async with sessionmaker.begin() as session:
        deliveries = await webhook_deliveries.for_replay(
            session, org_id, endpoint_id, since, until, limit, workflow_id_for=ids.webhook_delivery
        )
        delivery_ids = [d.id for d in deliveries]
    await _start_all(temporal_client, settings, delivery_ids, delivery_policy(settings), rerun=True)
    return delivery_ids


async def cancel_pending(
    sessionmaker: async_sessionmaker[AsyncSession], temporal_client: Client | LazyClient,
    org_id: str, endpoint_id: str,
) -> list[str]:  # fmt: skip
    """Cancel the running workflows of the endpoint's pending deliveries (call it before
    deleting or disabling an endpoint); each ends `canceled`. Returns their workflow ids."""
    async with sessionmaker() as session:
        workflow_ids = await webhook_deliveries.pending_workflow_ids(session, org_id, endpoint_id)
    client = await _client(temporal_client)

    async def cancel(workflow_id: str) -> None:
        with contextlib.suppress(RPCError):  # finished meanwhile, or never started
            await client.get_workflow_handle(workflow_id).cancel()

    await _bounded([cancel(w) for w in workflow_ids])
    return workflow_ids


async def _start_all(
    temporal_client: Client | LazyClient, settings: Settings, delivery_ids: list[str],
    policy: DeliveryPolicy, *, rerun: bool,
) -> None:  # fmt: skip
    if not delivery_ids:
        return
    client = await _client(temporal_client)
    reuse = WorkflowIDReusePolicy.REJECT_DUPLICATE
    if rerun:
        reuse = WorkflowIDReusePolicy.ALLOW_DUPLICATE

    async def start(delivery_id: str) -> None:
        inp = DeliverWebhookInput(delivery_id=delivery_id, policy=policy)
        # Already ran to the end (REJECT_DUPLICATE): a retried dispatch must not send it twice.
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await client.start_workflow(
                WebhookDeliveryWorkflow.run, inp,
                id=ids.webhook_delivery(delivery_id), task_queue=settings.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING, id_reuse_policy=reuse,
            )  # fmt: skip

    await _bounded([start(d) for d in delivery_ids])


async def _bounded(calls: list[Coroutine[Any, Any, None]]) -> None:
    gate = asyncio.Semaphore(MAX_CONCURRENT_STARTS)

    async def run(call: Coroutine[Any, Any, None]) -> None:
        async with gate:
            await call

    await asyncio.gather(*(run(c) for c in calls))


async def _client(temporal_client: Client | LazyClient) -> Client:
    if isinstance(temporal_client, LazyClient):
        return await temporal_client.get()
    return temporal_client
