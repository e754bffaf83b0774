"""Handing stored messages to Temporal: best effort at once, and a reconciler for the rest.

The ingress answers 250 after the database commit, then queues the message; a background
loop starts `InboundMail/{message_id}` for the queued messages in batches.
If Temporal is unreachable the row stays `pending`; the reconciler loop retries every few
seconds, so a message accepted during an outage is processed when Temporal is back. Starts
use the deterministic workflow id, so a message is never processed twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
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


# Starts in flight at once, and messages marked `started` per statement.
BATCH = 64


class Handoff:
    def __init__(self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.temporal = temporal_client.LazyClient(settings)
        self._queue: deque[str] = deque()
        self._loop_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def start_soon(self, message_ids: list[str]) -> None:
        """Hand off after the 250 has been sent, in the background and in batches: one loop
        starts the queued pipelines concurrently and marks the whole batch `started` in one
        statement. Nothing depends on this for durability: a row that is never marked (the
        process died, Temporal is down) stays `pending` and the reconciler starts it."""
        self._queue.extend(message_ids)
        if self._loop_task is None or self._loop_task.done():
            self._loop_task = asyncio.create_task(self._run())
            self._tasks.add(self._loop_task)
            self._loop_task.add_done_callback(self._tasks.discard)

    async def _run(self) -> None:
        while self._queue:
            batch = [self._queue.popleft() for _ in range(min(BATCH, len(self._queue)))]
            try:
                await self.start_all(batch)
            except Exception as exc:  # the database is down: the reconciler will retry
                log.warning("hand-off of %d messages deferred: %s", len(batch), exc)

    async def start_all(self, message_ids: list[str]) -> int:
        """Start the pipelines (concurrently) and mark those started; returns how many."""
        results = await asyncio.gather(
            *(self._start_workflow(m) for m in message_ids), return_exceptions=True
        )
        started = [m for m, r in zip(message_ids, results, strict=True) if r is None]
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:  # Temporal down: the reconciler will retry.
            log.warning("hand-off of %d messages deferred: %s", len(failed), failed[0])
        if started:
            async with self.sessionmaker.begin() as session:
                await messages.mark_started_many(session, {m: ids.inbound(m) for m in started})
        return len(started)

    async def start(self, message_id: str) -> None:
        await self._start_workflow(message_id)
        async with self.sessionmaker.begin() as session:
            await messages.mark_started(session, message_id, ids.inbound(message_id))

    async def _start_workflow(self, message_id: str) -> None:
        client = await self.temporal.get()
        try:
            await client.start_workflow(
                InboundMailWorkflow.run,
                InboundMailInput(message_id=message_id),
                id=ids.inbound(message_id),
                task_queue=self.settings.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                # A finished pipeline is never run again for the same message.
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            pass

    async def reconcile_once(self, older_than: timedelta = timedelta(seconds=5)) -> int:
        async with self.sessionmaker() as session:
            pending = await messages.list_pending(session, older_than=older_than, limit=500)
        started = 0
        for i in range(0, len(pending), BATCH):
            started += await self.start_all(pending[i : i + BATCH])
        return started

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
            await asyncio.wait(set(self._tasks), timeout=10)
