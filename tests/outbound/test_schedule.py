"""Scheduled sends: cancel before send_at, a cancel racing the send time (exactly one of sent
or canceled, and the API's answer says which), reschedule, and refusals after the hand-off."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.conftest import Tenant, create_inbox
from tests.helpers.smtp_sink import SmtpSink
from tests.outbound.conftest import unique, wait_status


def _at(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def _schedule(api: httpx.AsyncClient, t: Tenant, inbox_id: str, to: str,
                    seconds: float) -> dict[str, Any]:  # fmt: skip
    r = await api.post("/v1/messages/send", headers=t.headers, json={
        "inbox_id": inbox_id, "to": to, "subject": "later", "text": "t", "send_at": _at(seconds)})
    assert r.status_code == 202, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_cancel_before_send_at_sends_nothing(
    relay_api: httpx.AsyncClient, relay_worker: Any, relay_tenant: Tenant, sink: SmtpSink
) -> None:
    inbox = await create_inbox(relay_api, relay_tenant)
    to = unique("cancel")
    sent = await _schedule(relay_api, relay_tenant, inbox["id"], to, 3)
    assert sent["status"] == "scheduled"
    r = await relay_api.post(f"/v1/messages/{sent['id']}/cancel", headers=relay_tenant.headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "canceled"  # definite: recorded before the answer
    await asyncio.sleep(4)
    assert sink.for_rcpt(to) == [] and sink.rcpt_attempts[to] == 0
    again = await relay_api.post(f"/v1/messages/{sent['id']}/cancel", headers=relay_tenant.headers)
    assert again.status_code == 409 and again.json()["code"] == "already_canceled"


async def test_cancel_racing_the_send_time_ends_in_exactly_one_state(
    relay_api: httpx.AsyncClient, relay_worker: Any, relay_tenant: Tenant, sink: SmtpSink
) -> None:
    inbox = await create_inbox(relay_api, relay_tenant)
    outcomes = []
    for offset in (-0.15, -0.05, 0.0, 0.05, 0.1, 0.2):
        to = unique("race")
        sent = await _schedule(relay_api, relay_tenant, inbox["id"], to, 1.5)
        await asyncio.sleep(1.5 + offset)
        r = await relay_api.post(f"/v1/messages/{sent['id']}/cancel", headers=relay_tenant.headers)
        assert r.status_code in (200, 409), r.text
        final = await wait_status(relay_api, relay_tenant.headers, sent["id"], "sent", "canceled")
        await asyncio.sleep(0.3)
        delivered = len(sink.for_rcpt(to))
        if r.status_code == 200:
            assert final["status"] == "canceled" and delivered == 0, (offset, final)
        else:
            assert r.json()["code"] in ("already_handed_off", "already_sent", "already_finished")
            assert final["status"] == "sent" and delivered == 1, (offset, final)
        outcomes.append(final["status"])
    assert set(outcomes) <= {"sent", "canceled"}


async def test_reschedule_moves_the_send(
    relay_api: httpx.AsyncClient, relay_worker: Any, relay_tenant: Tenant, sink: SmtpSink
) -> None:
    inbox = await create_inbox(relay_api, relay_tenant)
    to = unique("moved")
    sent = await _schedule(relay_api, relay_tenant, inbox["id"], to, 3600)
    r = await relay_api.post(f"/v1/messages/{sent['id']}/reschedule", headers=relay_tenant.headers,
                             json={"send_at": _at(1)})  # fmt: skip
    assert r.status_code == 200, r.text
    await wait_status(relay_api, relay_tenant.headers, sent["id"], "sent", timeout=20)
    assert len(sink.for_rcpt(to)) == 1
    # Once sent, neither reschedule nor cancel applies.
    late = await relay_api.post(f"/v1/messages/{sent['id']}/reschedule", headers=relay_tenant.headers,
                                json={"send_at": _at(60)})  # fmt: skip
    assert late.status_code == 409
    cancel = await relay_api.post(f"/v1/messages/{sent['id']}/cancel", headers=relay_tenant.headers)
    assert cancel.status_code == 409 and cancel.json()["code"] == "already_sent"


async def test_reschedule_refuses_past_and_too_far(relay_api: httpx.AsyncClient, relay_worker: Any,
                                                   relay_tenant: Tenant) -> None:  # fmt: skip
    inbox = await create_inbox(relay_api, relay_tenant)
    sent = await _schedule(relay_api, relay_tenant, inbox["id"], unique("x"), 3600)
    for when in (_at(-3600), _at(3651 * 86400)):
        r = await relay_api.post(f"/v1/messages/{sent['id']}/reschedule",
                                 headers=relay_tenant.headers, json={"send_at": when})
        assert r.status_code == 422 and r.json()["details"][0]["field"] == "send_at"
    r = await relay_api.post(f"/v1/messages/{sent['id']}/cancel", headers=relay_tenant.headers)
    assert r.status_code == 200


async def test_capabilities_advertise_the_schedule_horizon(api: httpx.AsyncClient, tenant: Tenant) -> None:
    caps = (await api.get("/v1/capabilities", headers=tenant.headers)).json()
    assert caps["sending"]["max_schedule_days"] == 3650
    assert "mail.approve" in {s["name"] for s in caps["scopes"]}


async def test_patch_send_at_reschedules_and_flags_still_need_manage(
    relay_api: httpx.AsyncClient, relay_worker: Any, relay_tenant: Tenant, sink: SmtpSink
) -> None:
    from tests.outbound.conftest import add_key

    inbox = await create_inbox(relay_api, relay_tenant)
    to = unique("patched")
    sent = await _schedule(relay_api, relay_tenant, inbox["id"], to, 3600)
    sender = await add_key(relay_api, relay_tenant, ["mail.send", "mail.read"])
    flags = await relay_api.patch(f"/v1/messages/{sent['id']}", headers=sender, json={"is_read": True})
    assert flags.status_code == 403
    mixed = await relay_api.patch(f"/v1/messages/{sent['id']}", headers=sender,
                                  json={"send_at": _at(1), "is_read": True})  # fmt: skip
    assert mixed.status_code == 422 and mixed.json()["details"][0]["field"] == "send_at"
    r = await relay_api.patch(f"/v1/messages/{sent['id']}", headers=sender, json={"send_at": _at(1)})
    assert r.status_code == 200, r.text
    done = await wait_status(relay_api, relay_tenant.headers, sent["id"], "sent", timeout=20)
    assert len(sink.for_rcpt(to)) == 1 and done["send_at"] is not None
