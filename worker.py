"""Worker entry point: hosts every workflow and activity on the Postflow task queue."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from temporalio.worker import Worker

import temporal_client
from activities.deps import ActivityDeps, build_activities
from settings import Settings, load_settings
from workflows.registry import ALL_WORKFLOWS

MAX_ACTIVITIES = 64


def build_worker(client: object, settings: Settings, deps: ActivityDeps) -> Worker:
    return Worker(
        client,  # type: ignore[arg-type]
        task_queue=settings.task_queue,
        workflows=ALL_WORKFLOWS,
        activities=build_activities(deps),
        # Sync activities (embedded Chroma, DKIM signing) run here, off the event loop.
        activity_executor=ThreadPoolExecutor(max_workers=MAX_ACTIVITIES),
        max_concurrent_activities=MAX_ACTIVITIES,
        graceful_shutdown_timeout=timedelta(seconds=10),
    )


def build_wait_worker(client: object, settings: Settings, deps: ActivityDeps) -> Worker:
    """WaitForMail on its own task queue with its own slots (temporal_client.wait_task_queue):
    a wake-up never waits for a workflow-task slot held by a pipeline in a slow local activity.
    The main worker keeps WaitForMail too, for waits started on the main queue before."""
    from activities.waits import WaitActivities
    from workflows.wait_for_mail import WaitForMailWorkflow

    waits = WaitActivities(deps)
    return Worker(
        client,  # type: ignore[arg-type]
        task_queue=temporal_client.wait_task_queue(settings),
        workflows=[WaitForMailWorkflow],
        activities=[waits.find_existing, waits.finish],
        graceful_shutdown_timeout=timedelta(seconds=10),
    )


@contextlib.asynccontextmanager
async def housekeeping(client: object, deps: ActivityDeps) -> AsyncIterator[None]:
    """Background loops beside the worker: the webhook delivery reconciler and the outbound
    reconciler (each starts the deliveries / sends whose workflow never started)."""
    from activities.webhooks import DeliveryReconciler
    from outbound.reconciler import OutboundReconciler

    outbound = OutboundReconciler(deps.sessionmaker, client, deps.settings)
    tasks = [asyncio.create_task(DeliveryReconciler(deps, client).reconcile_forever()),
             asyncio.create_task(outbound.reconcile_forever())]  # fmt: skip
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def run(settings: Settings) -> None:
    client = await temporal_client.connect(settings)
    deps = ActivityDeps.build(settings)
    try:
        async with (
            build_worker(client, settings, deps) as worker,
            build_wait_worker(client, settings, deps),
            housekeeping(client, deps),
        ):
            logging.getLogger("postflow.worker").info(
                "worker polling task queue %s at %s", settings.task_queue, settings.temporal_address
            )
            await asyncio.Event().wait()
            del worker
    finally:
        await deps.close()


def main() -> None:
    settings = load_settings()
    logging.basicConfig(level=settings.log_level)
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
