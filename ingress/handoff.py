"""Handing stored messages to Temporal: best effort at once, and a reconciler for the rest.

The ingress answers 250 after the database commit, then starts `InboundMail/{message_id}`.
If Temporal is unreachable the row stays `pending`; the reconciler loop retries every few
seconds, so a message accepted during an outage is processed when Temporal is back. Starts
use the deterministic workflow id, so a message is never processed twice.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

import temporal_client
from contracts.inbound import InboundMailInput
from settings import Settings
from store import messages
from workflows import ids
from workflows.inbound_mail import InboundMailWorkflow

log = logging.getLogger("postflow.ingress.handoff")


class Handoff:
    def __init__(self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.temporal = temporal_client.LazyClient(settings)
        self._tasks: set[asyncio.Task[None]] = set()

    def start_soon(self, message_ids: list[str]) -> None:
        """Fire-and-forget start, after the 250 has been sent."""
        task = asyncio.create_task(self.start_all(message_ids))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def start_all(self, message_ids: list[str]) -> int:
        started = 0
        for message_id in message_ids:
            try:
                await self.start(message_id)
                started += 1
            except Exception as exc:  # Temporal down: the reconciler will retry.
                log.warning("hand-off of %s deferred: %s", message_id, exc)
                return started
        return started

    async def start(self, message_id: str) -> None:
        client = await self.temporal.get()
        workflow_id = ids.inbound(message_id)
        try:
            await client.start_workflow(
                InboundMailWorkflow.run,
                InboundMailInput(message_id=message_id),
                id=workflow_id,
                task_queue=self.settings.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                # A finished pipeline is never run again for the same message.
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            pass
        async with self.sessionmaker.begin() as session:
            await messages.mark_started(session, message_id, workflow_id)

    async def reconcile_once(self, older_than: timedelta = timedelta(seconds=5)) -> int:
        async with self.sessionmaker() as session:
            pending = await messages.list_pending(session, older_than=older_than, limit=500)
        return await self.start_all(pending) if pending else 0

    async def reconcile_forever(self, interval: float = 5.0) -> None:
        while True:
            try:
                n = await self.reconcile_once()
                if n:
                    log.info("reconciler started %d pending pipelines", n)
            except Exception as exc:
                log.warning("reconciler pass failed: %s", exc)
            await asyncio.sleep(interval)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)
