"""The one place a Temporal client is built, with the pydantic data converter.

api, ingress, worker and tests all call `connect()`, so payload conversion can never differ
between the process that starts a workflow and the one that runs it.
"""

from __future__ import annotations

import asyncio

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from settings import Settings


def wait_task_queue(settings: Settings) -> str:
    """Where WaitForMail runs: a queue (and worker slots) of its own, so waking a waiting agent
    never queues behind pipelines busy in slow local activities (LLM, embeddings)."""
    return f"{settings.task_queue}-waits"


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
    )


class LazyClient:
    """A client connected on first use, so api and ingress start even while Temporal is down."""

    def __init__(self, settings: Settings, *, connect_timeout: float = 5.0) -> None:
        self.settings = settings
        self.connect_timeout = connect_timeout
        self._client: Client | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                self._client = await asyncio.wait_for(connect(self.settings), self.connect_timeout)
            return self._client

    async def healthy(self) -> bool:
        try:
            client = await self.get()
            return await asyncio.wait_for(client.service_client.check_health(), 3)
        except Exception:
            return False
