"""A send committed while Temporal is unreachable: the API still answers 202 (the send is
durable), the row waits `outbound_pending` with no workflow, and the worker's
OutboundReconciler starts it once Temporal is back, exactly once."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio.service import RPCError, RPCStatusCode

from settings import Settings
from store.models import Message
from tests.conftest import Tenant, create_inbox
from tests.outbound.conftest import wait_status


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _row(sessionmaker: Any, message_id: str) -> Message:
    async with sessionmaker() as s:
        msg = await s.get(Message, message_id)
        assert msg is not None
        return msg


async def test_send_committed_while_temporal_is_down_is_started_by_the_reconciler(
    api: httpx.AsyncClient, worker: Any, tenant: Tenant, settings: Settings,
    sessionmaker: Any, temporal_env: Any,
) -> None:  # fmt: skip
    from api.app import create_app
    from api.actions.outbound import start_outbound
    from outbound.reconciler import OutboundReconciler
    from tests.helpers.http_server import serve

    inbox = await create_inbox(api, tenant)
    no_temporal = settings.model_copy(update={"temporal_address": f"127.0.0.1:{closed_port()}"})
    with serve(create_app(no_temporal)) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as down_api:
            r = await down_api.post("/v1/messages/send", headers=tenant.headers, json={
                "inbox_id": inbox["id"], "to": "late@example.com", "subject": "Outage",
                "text": "Sent while Temporal was down."})  # fmt: skip
    assert r.status_code == 202, r.text  # committed: a retry by the client would send twice
    sent = r.json()
    assert sent["status"] == "queued"
    assert (await _row(sessionmaker, sent["id"])).pipeline_state == "outbound_pending"
    handle = temporal_env.client.get_workflow_handle(sent["workflow_id"])
    with pytest.raises(RPCError) as missing:
        await handle.describe()
    assert missing.value.status == RPCStatusCode.NOT_FOUND

    reconciler = OutboundReconciler(sessionmaker, temporal_env.client, settings)
    assert sent["id"] not in await reconciler.reconcile_once()  # still inside the grace period
    assert sent["id"] in await reconciler.reconcile_once(grace=timedelta(0))
    done = await wait_status(api, tenant.headers, sent["id"], "captured")
    assert [x["status"] for x in done["recipients"]] == ["captured"]
    assert (await _row(sessionmaker, sent["id"])).pipeline_state == "outbound"

    # Started and finished: nothing left to reconcile; a racing second start runs nothing again.
    first_run = (await handle.describe()).run_id
    assert sent["id"] not in await reconciler.reconcile_once(grace=timedelta(0))
    await start_outbound(temporal_env.client, settings, sent["id"])
    assert (await handle.describe()).run_id == first_run


async def test_a_normally_started_send_is_marked_and_left_alone(
    api: httpx.AsyncClient, worker: Any, tenant: Tenant, settings: Settings,
    sessionmaker: Any, temporal_env: Any,
) -> None:  # fmt: skip
    from outbound.reconciler import OutboundReconciler

    inbox = await create_inbox(api, tenant)
    r = await api.post("/v1/messages/send", headers=tenant.headers, json={
        "inbox_id": inbox["id"], "to": "now@example.com", "subject": "s", "text": "t"})
    assert r.status_code == 202, r.text
    await wait_status(api, tenant.headers, r.json()["id"], "captured")
    assert (await _row(sessionmaker, r.json()["id"])).pipeline_state == "outbound"
    reconciler = OutboundReconciler(sessionmaker, temporal_env.client, settings)
    assert r.json()["id"] not in await reconciler.reconcile_once(grace=timedelta(0))


async def test_a_send_whose_workflow_never_started_can_still_be_canceled(
    api: httpx.AsyncClient, worker: Any, tenant: Tenant, settings: Settings, sessionmaker: Any
) -> None:
    from api.app import create_app
    from tests.helpers.http_server import serve

    inbox = await create_inbox(api, tenant)
    no_temporal = settings.model_copy(update={"temporal_address": f"127.0.0.1:{closed_port()}"})
    with serve(create_app(no_temporal)) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as down_api:
            r = await down_api.post("/v1/messages/send", headers=tenant.headers, json={
                "inbox_id": inbox["id"], "to": "never@example.com", "text": "t",
                "send_at": (datetime.now(UTC) + timedelta(days=30)).isoformat()})  # fmt: skip
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "scheduled"
    assert (await _row(sessionmaker, r.json()["id"])).pipeline_state == "outbound_pending"
    # Temporal is back, the reconciler has not run yet: the cancel starts the workflow itself.
    c = await api.post(f"/v1/messages/{r.json()['id']}/cancel", headers=tenant.headers)
    assert c.status_code == 200, c.text
    done = await wait_status(api, tenant.headers, r.json()["id"], "canceled")
    assert all(x["status"] not in ("accepted", "captured") for x in done["recipients"])
