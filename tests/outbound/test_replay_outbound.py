"""OutboundMail and FollowUp histories (sent, canceled, approved, retried) replay without
non-determinism under the current workflow definitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from tests.conftest import Tenant, create_inbox
from tests.helpers.eventually import eventually
from tests.helpers.smtp_sink import SmtpSink
from tests.outbound.conftest import add_key, unique, wait_status
from workflows.registry import ALL_WORKFLOWS


async def test_outbound_histories_replay(
    relay_api: httpx.AsyncClient, relay_worker: Any, relay_tenant: Tenant, sink: SmtpSink,
    temporal_env: Any,
) -> None:
    h = relay_tenant.headers
    inbox = await create_inbox(relay_api, relay_tenant)
    busy = unique("replay-busy")
    sink.script_rcpt(busy, "451 4.3.0 later")
    ids = []
    r = await relay_api.post("/v1/messages/send", headers=h,
                             json={"inbox_id": inbox["id"], "to": busy, "text": "t"})
    ids.append(r.json()["id"])
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    r = await relay_api.post("/v1/messages/send", headers=h,
                             json={"inbox_id": inbox["id"], "to": unique(), "text": "t", "send_at": later})
    ids.append(r.json()["id"])
    await relay_api.post(f"/v1/messages/{ids[-1]}/cancel", headers=h)
    approver = await add_key(relay_api, relay_tenant, ["mail.approve", "mail.read"])
    r = await relay_api.post("/v1/messages/send", headers=h, json={
        "inbox_id": inbox["id"], "to": unique(), "text": "t", "require_approval": True})
    ids.append(r.json()["id"])
    await wait_status(relay_api, h, ids[-1], "awaiting_approval")
    assert (await relay_api.post(f"/v1/messages/{ids[-1]}/approve", headers=approver)).status_code == 200
    seq = await relay_api.post("/v1/sequences", headers=h, json={
        "inbox_id": inbox["id"], "to": unique(), "subject": "s",
        "steps": [{"delay_seconds": 0, "text": "a"}, {"delay_seconds": 0.5, "text": "b"}]})
    for message_id in ids:
        await wait_status(relay_api, h, message_id, "sent", "canceled", timeout=30)

    async def sequence_done() -> bool:
        body = (await relay_api.get(f"/v1/sequences/{seq.json()['id']}", headers=h)).json()
        return body["status"] == "completed"

    await eventually(sequence_done, timeout=30)
    client = temporal_env.client
    wanted = [f"OutboundMail/{i}" for i in ids] + [seq.json()["workflow_id"]]

    async def histories() -> list[Any] | None:
        found = []
        for wid in wanted:
            desc = await client.get_workflow_handle(wid).describe()
            if desc.status is None or desc.status.name != "COMPLETED":
                return None
            found.append(await client.get_workflow_handle(wid).fetch_history())
        return found

    got = await eventually(histories, timeout=30)
    replayer = Replayer(workflows=ALL_WORKFLOWS, data_converter=pydantic_data_converter)

    async def stream() -> Any:
        for history in got:
            yield history

    results = await replayer.replay_workflows(stream(), raise_on_replay_failure=False)
    assert results.replay_failures == {}
