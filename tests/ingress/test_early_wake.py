"""The ingress wakes OTP waits itself, right after the commit: the code reaches the waiting
agent even when no worker has picked up the message's pipeline yet (here the ingress hands its
pipelines to a task queue no worker polls)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from httpx import AsyncClient

from ingress.server import start_ingress
from settings import Settings
from tests.api.test_waits import started_waits
from tests.conftest import Tenant, create_inbox
from tests.helpers.smtp import send_raw, simple_message
from tests.ingress.test_ingress import message_rows


async def test_otp_wait_is_answered_by_the_ingress_before_any_pipeline_runs(
    api: AsyncClient, tenant: Tenant, worker: Any, settings: Settings, sessionmaker: Any
) -> None:
    nobody = settings.model_copy(update={"task_queue": f"nobody-{uuid.uuid4().hex[:8]}"})
    ingress = await start_ingress(nobody, reconcile_interval=3600)
    try:
        inbox = await create_inbox(api, tenant)
        waiting = asyncio.create_task(api.get(f"/v1/inboxes/{inbox['id']}/otp",
                                              params={"timeout": 30}, headers=tenant.headers))  # fmt: skip
        await started_waits(api, sessionmaker, inbox["id"], 1)
        raw = simple_message(inbox["address"], subject="Your code",
                             body="Your verification code is 271828. It expires in 5 minutes.")  # fmt: skip
        _, reply = await send_raw(ingress.port, "svc@example.com", [inbox["address"]], raw)
        r = await waiting
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["code"] == "271828" and body["email_id"] == reply.rsplit(" ", 1)[-1]
        assert body["trusted"] is None and body["expires"] is not None  # not authenticated yet
        # No pipeline ran: the row is still as the ingress wrote it.
        [row] = await message_rows(sessionmaker, inbox["id"])
        assert row.pipeline_state in ("pending", "started") and row.extracted == {}
    finally:
        await ingress.close()
