"""Conditional sends woken by the inbound pipeline: `send_unless_replied` is dropped when a
reply lands on the thread before send_at (and goes out when none does), and a follow-up
sequence stops at the first reply."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.conftest import Tenant, create_inbox
from tests.helpers.eventually import eventually
from tests.helpers.smtp import send_raw, simple_message
from tests.helpers.smtp_sink import SmtpSink
from tests.outbound.conftest import unique, wait_status


async def _receive(api: httpx.AsyncClient, t: Tenant, ingress: Any, inbox: dict[str, Any],
                   sender: str, subject: str, in_reply_to: str | None = None) -> dict[str, Any]:  # fmt: skip
    raw = simple_message(inbox["address"], subject=subject, sender=sender, body="a reply")
    if in_reply_to:
        raw = raw.replace(b"Subject:", f"In-Reply-To: <{in_reply_to}>\r\nSubject:".encode())
    await send_raw(ingress.port, sender, [inbox["address"]], raw)

    async def processed() -> dict[str, Any] | None:
        data = (await api.get(f"/v1/inboxes/{inbox['id']}/messages?direction=inbound&subject={subject}",
                              headers=t.headers)).json()["data"]  # fmt: skip
        return data[0] if data and data[0]["pipeline_state"] == "done" else None

    return await eventually(processed, timeout=30)


async def test_send_unless_replied_is_dropped_by_a_reply_and_sent_without_one(
    relay_api: httpx.AsyncClient, relay_worker: Any, worker: Any, ingress: Any,
    relay_tenant: Tenant, sink: SmtpSink,
) -> None:
    inbox = await create_inbox(relay_api, relay_tenant)
    customer = unique("cust")
    first = await _receive(relay_api, relay_tenant, ingress, inbox, customer, "Pricing question")
    send_at = (datetime.now(UTC) + timedelta(seconds=6)).isoformat()
    r = await relay_api.post("/v1/messages/send", headers=relay_tenant.headers, json={
        "inbox_id": inbox["id"], "to": customer, "subject": "Re: Pricing question",
        "text": "Just checking in", "thread_id": first["thread_id"], "send_at": send_at,
        "send_unless_replied": True})  # fmt: skip
    assert r.status_code == 202, r.text
    nudge = r.json()
    assert nudge["thread_id"] == first["thread_id"]
    await _receive(relay_api, relay_tenant, ingress, inbox, customer, "Re: Pricing question",
                   in_reply_to=nudge["message"]["message_id"])  # fmt: skip
    done = await wait_status(relay_api, relay_tenant.headers, nudge["id"], "canceled", timeout=15)
    assert done["cancel_reason"] == "replied"
    await asyncio.sleep(1)
    assert sink.rcpt_attempts[customer] == 0

    quiet = unique("quiet")
    other = await _receive(relay_api, relay_tenant, ingress, inbox, quiet, "Demo request")
    r = await relay_api.post("/v1/messages/send", headers=relay_tenant.headers, json={
        "inbox_id": inbox["id"], "to": quiet, "text": "Still interested?", "subject": "Re: Demo",
        "thread_id": other["thread_id"], "send_unless_replied": True,
        "send_at": (datetime.now(UTC) + timedelta(seconds=2)).isoformat()})  # fmt: skip
    await wait_status(relay_api, relay_tenant.headers, r.json()["id"], "sent", timeout=20)
    assert len(sink.for_rcpt(quiet)) == 1


async def test_follow_up_sequence_stops_at_the_first_reply(
    relay_api: httpx.AsyncClient, relay_worker: Any, worker: Any, ingress: Any,
    relay_tenant: Tenant, sink: SmtpSink,
) -> None:
    inbox = await create_inbox(relay_api, relay_tenant)
    lead = unique("lead")
    r = await relay_api.post("/v1/sequences", headers=relay_tenant.headers, json={
        "inbox_id": inbox["id"], "to": lead, "subject": "Intro",
        "steps": [{"delay_seconds": 0, "text": "Hello!"},
                  {"delay_seconds": 6, "text": "Following up"},
                  {"delay_seconds": 6, "text": "Last try"}]})  # fmt: skip
    assert r.status_code == 202, r.text
    seq = r.json()

    async def first_sent() -> list[Any]:
        return sink.for_rcpt(lead)

    got = await eventually(first_sent, timeout=20)
    assert got[0].message["Subject"] == "Intro"
    await _receive(relay_api, relay_tenant, ingress, inbox, lead, "Re: Intro",
                   in_reply_to=got[0].message["Message-ID"].strip("<>"))  # fmt: skip

    async def replied() -> dict[str, Any] | None:
        body = (await relay_api.get(f"/v1/sequences/{seq['id']}", headers=relay_tenant.headers)).json()
        return body if body["status"] == "replied" else None

    done = await eventually(replied, timeout=20)
    assert len(done["sent_message_ids"]) == 1
    await asyncio.sleep(7)
    assert len(sink.for_rcpt(lead)) == 1


async def test_sequence_cancel_and_bad_input(relay_api: httpx.AsyncClient, relay_worker: Any,
                                             relay_tenant: Tenant, other_tenant: Tenant) -> None:  # fmt: skip
    inbox = await create_inbox(relay_api, relay_tenant)
    bad = await relay_api.post("/v1/sequences", headers=relay_tenant.headers, json={
        "inbox_id": inbox["id"], "to": "x@example.com", "subject": "s",
        "steps": [{"delay_seconds": 0}]})  # fmt: skip
    assert bad.status_code == 422 and bad.json()["details"][0]["field"] == "steps[0].text"
    r = await relay_api.post("/v1/sequences", headers=relay_tenant.headers, json={
        "inbox_id": inbox["id"], "to": unique("c"), "subject": "s",
        "steps": [{"delay_seconds": 3600, "text": "later"}]})  # fmt: skip
    seq = r.json()
    assert (await relay_api.get(f"/v1/sequences/{seq['id']}", headers=other_tenant.headers)).status_code == 404
    c = await relay_api.post(f"/v1/sequences/{seq['id']}/cancel", headers=relay_tenant.headers)
    assert c.status_code == 200 and c.json()["status"] == "canceled"
