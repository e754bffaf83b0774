"""Starting the sends whose OutboundMail workflow never started.

The API commits a send (message, recipients, send rows) and then starts
`OutboundMail/{message_id}`. If that start fails (Temporal unreachable, the API process killed
in between) the row stays `queued`/`scheduled`/`awaiting_approval` with
`pipeline_state = outbound_pending`, and nothing would ever send it. The workflow's first
activity marks the row `outbound`; this reconciler, a loop in the worker process, starts the
rows still unmarked after a grace period — the same pattern as the ingress's reconciler
(ingress/handoff.py): concurrent starts in batches, one statement marks the batch.

It runs in the worker because a started workflow only makes progress where a worker polls:
with the worker down a start achieves nothing, and with it up its Temporal client is already
connected. Starts use the deterministic id (`api.actions.outbound.start_outbound`), so a row
the API did start (its first activity merely backlogged) or that two workers reconcile at once
is never sent twice.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ingress.handoff import BATCH
from settings import Settings
from store import outbound

log = logging.getLogger("postflow.outbound.reconciler")


class OutboundReconciler:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], client: Any, settings: Settings,
        *, grace: timedelta = timedelta(seconds=30),
    ) -> None:  # fmt: skip
        self.sessionmaker = sessionmaker
        self.client = client
        self.settings = settings
        self.grace = grace

    async def reconcile_once(self, grace: timedelta | None = None) -> list[str]:
        """One pass; returns the ids of the messages whose workflow it started."""
        from api.actions.outbound import start_outbound

        async with self.sessionmaker() as session:
            pending = await outbound.list_unstarted(
                session, older_than=self.grace if grace is None else grace, limit=500)
        started: list[str] = []
        for i in range(0, len(pending), BATCH):
            batch = pending[i : i + BATCH]
            results = await asyncio.gather(
                *(start_outbound(self.client, self.settings, m) for m in batch),
                return_exceptions=True,
            )
            ok = [m for m, r in zip(batch, results, strict=True) if r is None]
            failed = [r for r in results if isinstance(r, BaseException)]
            if failed:
                log.warning("start of %d outbound workflows deferred: %s", len(failed), failed[0])
            async with self.sessionmaker.begin() as session:
                await outbound.mark_started(session, ok)
            started += ok
        return started

    async def reconcile_forever(self, interval: float = 10.0) -> None:
        while True:
            try:
                if started := await self.reconcile_once():
                    log.info("outbound reconciler started %d sends", len(started))
            except Exception as exc:  # the database or Temporal down: next pass
                log.warning("outbound reconciler pass failed: %s", exc)
            await asyncio.sleep(interval)
