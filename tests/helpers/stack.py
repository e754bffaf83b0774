"""A worker and an API for a given Settings: what the session fixtures run, reusable by test
modules that need a deployment configured differently (a relay transport, an LLM, their own
task queue) next to the session's one, on the same PostgreSQL and Temporal."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from temporalio.client import Client

from settings import Settings


@contextlib.asynccontextmanager
async def running_worker(client: Client, settings: Settings, *, waits: bool = True) -> AsyncIterator[Any]:
    """The real worker (and, unless `waits=False`, the worker of the waits task queue)."""
    from activities.deps import ActivityDeps
    from worker import build_wait_worker, build_worker

    deps = ActivityDeps.build(settings)
    try:
        async with contextlib.AsyncExitStack() as stack:
            worker = await stack.enter_async_context(build_worker(client, settings, deps))
            if waits:
                await stack.enter_async_context(build_wait_worker(client, settings, deps))
            yield worker
    finally:
        await deps.close()


@contextlib.asynccontextmanager
async def served_api(settings: Settings, timeout: float = 120) -> AsyncIterator[httpx.AsyncClient]:
    """The real app over HTTP on loopback (its own thread and loop), with an httpx client."""
    from api.app import create_app
    from tests.helpers.http_server import serve

    with serve(create_app(settings)) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=timeout) as client:
            yield client
