"""Waking OTP waits from the ingress, right after the commit and the 250.

The INSERT that stores a message also says whether its inbox has an active wait (RETURNING).
Only then does the ingress parse the message (in a thread, after answering) and signal the
inbox's OTP waits with the code, before the pipeline's workflow has even been picked up: a
waiting agent gets its code without the hand-off, the worker's poll and the pipeline's first
steps. This is only a shortcut: the pipeline wakes every matching wait again (a wait keeps
its first result), so a failure here costs latency, never a wake-up.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.messages import Inserted
from temporal_client import LazyClient

log = logging.getLogger("postflow.ingress.wake")


class EarlyWake:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], temporal: LazyClient) -> None:
        self.sessionmaker = sessionmaker
        self.temporal = temporal
        self._tasks: set[asyncio.Task[None]] = set()

    def wake_soon(self, raw: bytes, rows: list[Inserted]) -> None:
        rows = [r for r in rows if r.has_waits]
        if not rows:
            return
        task = asyncio.create_task(self._wake(raw, rows))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _wake(self, raw: bytes, rows: list[Inserted]) -> None:
        from activities.inbound import analyse, early_summary, wake
        from store import waits

        try:
            parsed, extracted, category = await asyncio.to_thread(analyse, raw)
            if not extracted["otp_codes"]:
                return  # no code: only the pipeline can answer (with the stored message)
            client = await self.temporal.get()
            for row in rows:
                async with self.sessionmaker() as session:
                    active = await waits.active_for_inbox(session, row.inbox_id)
                otp_waits = [w for w in active if w.kind == "otp"]
                if otp_waits:
                    summary = early_summary(row.message_id, row, parsed, extracted, category)
                    await wake(client, otp_waits, summary)
        except Exception as exc:  # the pipeline wakes them anyway
            log.warning("early wake-up skipped: %s", exc)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)
