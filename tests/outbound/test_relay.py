"""The `relay` transport against a real SMTP sink: what arrives, threading headers on replies,
temporary failures retried until accepted, permanent ones failing (and suppressing) at once,
and mail to local inboxes delivered internally through the inbound pipeline."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Tenant, create_inbox
from tests.helpers.eventually import eventually
from tests.helpers.smtp import send_raw, simple_message
from tests.helpers.smtp_sink import SmtpSink
from tests.outbound.conftest import unique, wait_status


async def _send(api: httpx.AsyncClient, t: Tenant, **body: Any) -> dict[str, Any]:
    r = await api.post("/v1/messages/send", json=body, headers=t.headers)
    assert r.status_code == 202, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_relay_delivers_with_correct_headers(
    relay_api: httpx.AsyncClient, relay_worker: Any, relay_tenant: Tenant, sink: SmtpSink
) -> None:
    inbox = await create_inbox(relay_api, relay_tenant, name="Sales Bot")
    to, bcc = unique("to"), unique("bcc")
    sent = await _send(relay_api, relay_tenant, inbox_id=inbox["id"], to=to, bcc=bcc,
                       subject="Offer", text="plain", html="<p>rich</p>",
                       headers={"X-Campaign": "spring"})  # fmt: skip
    done = await wait_status(relay_api, relay_tenant.headers, sent["id"], "sent")
    assert {r["address"]: (r["status"], r["last_code"]) for r in done["recipients"]} == {
        to: ("accepted", 250), bcc: ("accepted", 250)}
    got = sink.for_rcpt(to)
    assert len(got) == 1 and got[0].rcpt_tos == [to]  # one transaction per recipient (VERP)
    assert got[0].mail_from.startswith(f"bounces+{sent['id']}-")
    m = got[0].message
    assert m["From"] == f"Sales Bot <{inbox['address']}>" and m["To"] == to
    assert m["Subject"] == "Offer" and m["X-Campaign"] == "spring" and m["Bcc"] is None
    assert m["Message-ID"] == f"<{done['message']['message_id']}>"
    assert len(sink.for_rcpt(bcc)) == 1
    events = (await relay_api.get(f"/v1/events?type=message.delivered", headers=relay_tenant.headers)).json()
    assert any(e["data"]["message_id"] == sent["id"] for e in events["data"])


async def test_reply_sets_in_reply_to_and_references(
    relay_api: httpx.AsyncClient, relay_worker: Any, relay_tenant: Tenant, sink: SmtpSink,
    ingress: Any, worker: Any,
) -> None:
    inbox = await create_inbox(relay_api, relay_tenant)
    customer = unique("customer")
    raw = simple_message(inbox["address"], subject="Question about billing", sender=customer,
                         mid="orig-123@example.com")  # fmt: skip
    raw = raw.replace(b"Subject:", b"References: <root-1@example.com>\r\nSubject:")
    await send_raw(ingress.port, customer, [inbox["address"]], raw)

    async def received() -> dict[str, Any] | None:
        data = (await relay_api.get(f"/v1/inboxes/{inbox['id']}/messages",
                                    headers=relay_tenant.headers)).json()["data"]  # fmt: skip
        return data[0] if data and data[0]["pipeline_state"] == "done" else None

    parent = await eventually(received, timeout=30)
    r = await relay_api.post(f"/v1/messages/{parent['id']}/reply", headers=relay_tenant.headers,
                             json={"text": "Here is the answer."})  # fmt: skip
    assert r.status_code == 202, r.text
    reply = await wait_status(relay_api, relay_tenant.headers, r.json()["id"], "sent")
    m = sink.for_rcpt(customer)[0].message
    assert m["In-Reply-To"] == "<orig-123@example.com>"
    assert m["References"] == "<root-1@example.com> <orig-123@example.com>"
    assert m["Subject"] == "Re: Question about billing"
    assert reply["thread_id"] == parent["thread_id"]
    thread = (await relay_api.get(f"/v1/threads/{parent['thread_id']}", headers=relay_tenant.headers)).json()
    assert thread["message_count"] == 2 and thread["last_direction"] == "outbound"


async def test_temporary_failures_retry_until_accepted(
    relay_api: httpx.AsyncClient, relay_worker: Any, relay_tenant: Tenant, sink: SmtpSink
) -> None:
    inbox = await create_inbox(relay_api, relay_tenant)
    to = unique("busy")
    sink.script_rcpt(to, "421 4.7.0 Try again later", "451 4.3.0 Mailbox busy")
    sent = await _send(relay_api, relay_tenant, inbox_id=inbox["id"], to=to, subject="s", text="t")
    done = await wait_status(relay_api, relay_tenant.headers, sent["id"], "sent", timeout=40)
    assert done["attempts"] == 3 and sink.rcpt_attempts[to] == 3
    assert len(sink.for_rcpt(to)) == 1
    events = (await relay_api.get(f"/v1/delivery/events?message_id={sent['id']}",
                                  headers=relay_tenant.headers)).json()["data"]  # fmt: skip
    types = sorted(e["type"] for e in events)
    assert types.count("deferred") == 2 and "delivered" in types


async def test_permanent_failure_fails_at_once_and_suppresses_hard_bounces(
    relay_api: httpx.AsyncClient, relay_worker: Any, relay_tenant: Tenant, sink: SmtpSink
) -> None:
    inbox = await create_inbox(relay_api, relay_tenant)
    gone = unique("gone")
    sink.script_rcpt(gone, "550 5.1.1 <x>: Recipient address rejected: User unknown")
    sent = await _send(relay_api, relay_tenant, inbox_id=inbox["id"], to=gone, subject="s", text="t")
    done = await wait_status(relay_api, relay_tenant.headers, sent["id"], "failed")
    assert done["attempts"] == 1 and sink.rcpt_attempts[gone] == 1
    assert done["recipients"][0]["last_code"] == 550
    # The hard bounce suppressed the address: the next send to it is refused up front.
    r = await relay_api.post("/v1/messages/send", headers=relay_tenant.headers,
                             json={"inbox_id": inbox["id"], "to": gone, "text": "again"})
    assert r.status_code == 422 and r.json()["code"] == "send_refused", r.text


async def test_mail_to_a_local_inbox_is_delivered_internally(
    relay_api: httpx.AsyncClient, relay_worker: Any, worker: Any, relay_tenant: Tenant,
    sink: SmtpSink,
) -> None:
    a = await create_inbox(relay_api, relay_tenant)
    b = await create_inbox(relay_api, relay_tenant)
    before = len(sink.accepted)
    sent = await _send(relay_api, relay_tenant, inbox_id=a["id"], to=b["address"],
                       subject="internal memo", text="no SMTP hop")  # fmt: skip
    done = await wait_status(relay_api, relay_tenant.headers, sent["id"], "sent")
    assert done["recipients"][0]["status"] == "local"

    async def arrived() -> dict[str, Any] | None:
        data = (await relay_api.get(f"/v1/inboxes/{b['id']}/messages",
                                    headers=relay_tenant.headers)).json()["data"]  # fmt: skip
        return data[0] if data and data[0]["pipeline_state"] == "done" else None

    got = await eventually(arrived, timeout=30)
    assert got["subject"] == "internal memo" and got["direction"] == "inbound"
    assert len(sink.accepted) == before  # nothing went to the smarthost


async def test_suppression_added_after_scheduling_stops_the_send_before_transport(
    relay_api: httpx.AsyncClient, relay_worker: Any, relay_tenant: Tenant, sink: SmtpSink
) -> None:
    from datetime import UTC, datetime, timedelta

    inbox = await create_inbox(relay_api, relay_tenant)
    to = unique("later-suppressed")
    sent = await _send(relay_api, relay_tenant, inbox_id=inbox["id"], to=to, text="t",
                       send_at=(datetime.now(UTC) + timedelta(seconds=2)).isoformat())  # fmt: skip
    r = await relay_api.post("/v1/delivery/suppressions", headers=relay_tenant.headers,
                             json={"address": to})  # fmt: skip
    assert r.status_code in (200, 201), r.text
    done = await wait_status(relay_api, relay_tenant.headers, sent["id"], "suppressed", timeout=20)
    assert done["recipients"][0]["status"] == "suppressed"
    assert sink.rcpt_attempts[to] == 0
