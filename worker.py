"""Worker entry point: hosts every workflow and activity on the Postflow task queue."""

from __future__ import annotations

import asyncio
import logging
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


async def run(settings: Settings) -> None:
    client = await temporal_client.connect(settings)
    deps = ActivityDeps.build(settings)
    try:
        async with build_worker(client, settings, deps) as worker:
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
