"""A worker OS process killed (SIGKILL) after the smarthost accepted the message but before
the worker could record the reply: the attempt is retried by another worker, which finds the
recipient in flight and never sends to it again (one copy at the sink, recipient `in_doubt`)."""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment

from settings import Settings
from tests.conftest import create_inbox, make_tenant
from tests.helpers.eventually import eventually
from tests.helpers.processes import base_env, spawn, stop
from tests.helpers.smtp_sink import Received, SmtpSink
from tests.outbound.conftest import unique, wait_status


async def test_worker_killed_after_the_hand_off_never_sends_twice(
    settings: Settings, temporal_env: WorkflowEnvironment, superadmin_key: str, tmp_path: Path
) -> None:
    from pydantic import SecretStr

    from activities.deps import ActivityDeps
    from api.app import create_app
    from tests.helpers.http_server import serve
    from worker import build_worker

    queue = f"crash-{uuid.uuid4().hex[:8]}"
    with SmtpSink() as sink:
        conf = settings.model_copy(update={
            "task_queue": queue, "outbound_transport": "relay",
            "relay_url": SecretStr(f"smtp://127.0.0.1:{sink.port}"),
            "outbound_smtp_timeout_seconds": 3.0, "outbound_retry_schedule": "1s",
        })  # fmt: skip
        env = base_env(
            POSTFLOW_DATABASE_URL=settings.database_url,
            POSTFLOW_TEMPORAL_ADDRESS=settings.temporal_address, POSTFLOW_TASK_QUEUE=queue,
            POSTFLOW_DATA_DIR=str(tmp_path / "data"), POSTFLOW_BLOB_DIR=str(settings.blobs_path),
            POSTFLOW_MASTER_KEY=settings.master_key_bytes().decode(),
            POSTFLOW_OUTBOUND_TRANSPORT="relay", POSTFLOW_RELAY_URL=f"smtp://127.0.0.1:{sink.port}",
            POSTFLOW_OUTBOUND_SMTP_TIMEOUT_SECONDS="3", POSTFLOW_LOG_LEVEL="WARNING",
            POSTFLOW_DNS_SERVERS=settings.dns_servers,
        )  # fmt: skip
        proc = spawn("worker", env, tmp_path / "worker.log")
        killed: list[int] = []

        def kill_worker(_: Received) -> None:
            # The sink has taken the message; the worker dies before it reads the 250.
            if not killed:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)
                killed.append(proc.pid)

        sink.on_accept = kill_worker
        try:
            with serve(create_app(conf)) as base:
                async with httpx.AsyncClient(base_url=base, timeout=30) as api:
                    t = await make_tenant(api, superadmin_key, name="Crash Co")
                    inbox = await create_inbox(api, t)
                    to = unique("once")
                    r = await api.post("/v1/messages/send", headers=t.headers, json={
                        "inbox_id": inbox["id"], "to": to, "subject": "exactly once", "text": "t"})
                    assert r.status_code == 202, r.text
                    async def was_killed() -> bool:
                        return bool(killed)

                    await eventually(was_killed, timeout=60)
                    # A second worker takes over once the dead one stops heartbeating.
                    deps = ActivityDeps.build(conf)
                    try:
                        async with build_worker(temporal_env.client, conf, deps):
                            done = await wait_status(api, t.headers, r.json()["id"], "sent", timeout=60)
                    finally:
                        await deps.close()
        finally:
            stop([proc])
        assert len(sink.for_rcpt(to)) == 1 and sink.rcpt_attempts[to] == 1
        rcpt: dict[str, Any] = done["recipients"][0]
        assert rcpt["status"] == "in_doubt", rcpt
