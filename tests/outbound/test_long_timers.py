"""OutboundMail on the time-skipping test server with the real activities: a send scheduled
400 days ahead goes out, and a smarthost answering 451 for two days of retries (one attempt a
day) is delivered on the third — in seconds of real time."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

from pydantic import SecretStr
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from settings import Settings
from store.base import utcnow
from tests.helpers.smtp_sink import SmtpSink
from tests.outbound.conftest import unique
from tests.workflows import test_long_timers as time_skipping


async def _draft(settings: Settings, sessionmaker: Any, to: str, send_at: Any) -> str:
    """Store a send as the API does (same code), without starting its workflow."""
    from api.actions.outbound import Draft, Outbound
    from api.actions.outbound_store import store_draft
    from api.auth import Principal
    from store import inboxes, orgs
    from store.blobs import BlobStore
    from store.scope import TenantScope

    async with sessionmaker.begin() as s:
        org, user, key, _ = await orgs.create_organization(s, name="Skip", admin_email=None)
        inbox = await inboxes.create_inbox(s, TenantScope(org_id=org.id), local_part=None, name="",
                                           domain_name=None)  # fmt: skip
    principal = Principal(key_id=key.id, user_id=user.id, org_id=org.id, role="admin",
                          is_superadmin=False, scopes=frozenset({"admin"}),
                          scope=TenantScope(org_id=org.id))  # fmt: skip
    ob = Outbound(sessionmaker, BlobStore(settings.blobs_path), None, settings)  # type: ignore[arg-type]
    draft = Draft(inbox_id=inbox.id, to=[("", to)], subject="later", text="t", send_at=send_at)
    view, _ = await store_draft(ob, principal, draft, None)
    return view.id


async def _run(conf: Settings, message_id: str) -> tuple[Any, float]:
    from activities.deps import ActivityDeps
    from contracts.outbound import OutboundMailInput
    from worker import build_worker
    from workflows import ids
    from workflows.outbound_mail import OutboundMailWorkflow

    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=time_skipping.test_server_path(), data_converter=pydantic_data_converter)
    deps = ActivityDeps.build(conf)
    try:
        async with build_worker(env.client, conf, deps):
            t0 = time.monotonic()
            result = await env.client.execute_workflow(
                OutboundMailWorkflow.run, OutboundMailInput(message_id=message_id),
                id=ids.outbound(message_id), task_queue=conf.task_queue)  # fmt: skip
            return result, time.monotonic() - t0
    finally:
        await deps.close()
        await env.shutdown()


async def test_send_scheduled_400_days_ahead_goes_out(
    settings: Settings, superadmin_key: str, sessionmaker: Any
) -> None:
    conf = settings.model_copy(update={"task_queue": f"skip-{uuid.uuid4().hex[:6]}"})
    message_id = await _draft(settings, sessionmaker, unique("future"), utcnow() + timedelta(days=400))
    result, elapsed = await _run(conf, message_id)
    assert result.status == "captured" and elapsed < 60


async def test_two_days_of_451_then_delivered(
    settings: Settings, superadmin_key: str, sessionmaker: Any
) -> None:
    from store import outbound

    with SmtpSink() as sink:
        conf = settings.model_copy(update={
            "task_queue": f"skip-{uuid.uuid4().hex[:6]}", "outbound_transport": "relay",
            "relay_url": SecretStr(f"smtp://127.0.0.1:{sink.port}"),
            "outbound_retry_schedule": "1d", "outbound_retry_hours": 72.0,
        })  # fmt: skip
        to = unique("slow")
        sink.script_rcpt(to, "451 4.3.0 later", "451 4.3.0 later")
        message_id = await _draft(settings, sessionmaker, to, None)
        result, elapsed = await _run(conf, message_id)
        assert result.status == "sent" and result.attempts == 3 and elapsed < 60
        assert len(sink.for_rcpt(to)) == 1
    async with sessionmaker() as s:
        send = await outbound.get_send(s, message_id)
        assert send.attempts == 3


async def test_retry_period_ends_in_failure(
    settings: Settings, superadmin_key: str, sessionmaker: Any
) -> None:
    with SmtpSink() as sink:
        conf = settings.model_copy(update={
            "task_queue": f"skip-{uuid.uuid4().hex[:6]}", "outbound_transport": "relay",
            "relay_url": SecretStr(f"smtp://127.0.0.1:{sink.port}"),
            "outbound_retry_schedule": "12h", "outbound_retry_hours": 72.0,
        })  # fmt: skip
        to = unique("never")
        sink.script_rcpt(to, *["451 4.3.0 later"] * 20)
        message_id = await _draft(settings, sessionmaker, to, None)
        result, _ = await _run(conf, message_id)
    assert result.status == "failed" and result.attempts == 7  # 6 × 12 h of waiting = 72 h
