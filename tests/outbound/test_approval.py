"""The approval gate: mail of an inbox that requires approval waits in `awaiting_approval`
until a key with `mail.approve` — never the composing key — approves (optionally editing) or
rejects it; nobody deciding escalates, then expires it. The approver is in the audit log."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import select

from tests.conftest import Tenant, create_inbox
from tests.helpers.smtp_sink import SmtpSink
from tests.outbound.conftest import add_key, unique, wait_status


async def _gated_inbox(api: httpx.AsyncClient, t: Tenant, **conf: Any) -> dict[str, Any]:
    inbox = await create_inbox(api, t)
    r = await api.put(f"/v1/inboxes/{inbox['id']}/send-settings", headers=t.headers,
                      json={"require_approval": True, **conf})  # fmt: skip
    assert r.status_code == 200, r.text
    return inbox


async def _compose(api: httpx.AsyncClient, headers: dict[str, str], inbox_id: str,
                   to: str) -> dict[str, Any]:  # fmt: skip
    r = await api.post("/v1/messages/send", headers=headers,
                       json={"inbox_id": inbox_id, "to": to, "subject": "Draft", "text": "v1"})
    assert r.status_code == 202, r.text
    return await wait_status(api, headers, r.json()["id"], "awaiting_approval")


async def test_approval_by_another_key_sends_and_is_audited(
    relay_api: httpx.AsyncClient, relay_worker: Any, relay_tenant: Tenant, sink: SmtpSink,
    sessionmaker: Any,
) -> None:
    from store.models import AuditEntry

    inbox = await _gated_inbox(relay_api, relay_tenant)
    agent = await add_key(relay_api, relay_tenant, ["mail.send", "mail.read", "mail.approve"])
    human = await add_key(relay_api, relay_tenant, ["mail.approve", "mail.read"])
    reader = await add_key(relay_api, relay_tenant, ["mail.read"])
    to = unique("approved")
    msg = await _compose(relay_api, agent, inbox["id"], to)
    await asyncio.sleep(0.5)
    assert sink.rcpt_attempts[to] == 0  # held
    own = await relay_api.post(f"/v1/messages/{msg['id']}/approve", headers=agent)
    assert own.status_code == 403 and own.json()["code"] == "own_message"
    no_scope = await relay_api.post(f"/v1/messages/{msg['id']}/approve", headers=reader)
    assert no_scope.status_code == 403
    r = await relay_api.post(f"/v1/messages/{msg['id']}/approve", headers=human,
                             json={"subject": "Final", "text": "v2"})  # fmt: skip
    assert r.status_code == 200, r.text
    done = await wait_status(relay_api, human, msg["id"], "sent")
    assert done["approval_state"] == "approved"
    got = sink.for_rcpt(to)
    assert len(got) == 1 and got[0].message["Subject"] == "Final"
    assert "v2" in got[0].message.get_body(("plain",)).get_content()
    twice = await relay_api.post(f"/v1/messages/{msg['id']}/approve", headers=human)
    assert twice.status_code == 409
    async with sessionmaker() as s:
        entry = await s.scalar(select(AuditEntry).where(AuditEntry.resource_id == msg["id"],
                                                        AuditEntry.action == "message.approve"))
    assert entry is not None and entry.actor_id not in (None, "")
    me = (await relay_api.get("/v1", headers=human)).json()["principal"]
    assert entry.actor_id == me["api_key_id"]


async def test_reject_cancels_and_sends_nothing(
    relay_api: httpx.AsyncClient, relay_worker: Any, relay_tenant: Tenant, sink: SmtpSink
) -> None:
    inbox = await _gated_inbox(relay_api, relay_tenant)
    agent = await add_key(relay_api, relay_tenant, ["mail.send", "mail.read"])
    human = await add_key(relay_api, relay_tenant, ["mail.approve", "mail.read"])
    to = unique("rejected")
    msg = await _compose(relay_api, agent, inbox["id"], to)
    r = await relay_api.post(f"/v1/messages/{msg['id']}/reject", headers=human,
                             json={"reason": "tone"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "canceled" and r.json()["approval_state"] == "rejected"
    assert r.json()["cancel_reason"] == "rejected"
    await asyncio.sleep(0.5)
    assert sink.rcpt_attempts[to] == 0


async def test_unapproved_mail_escalates_then_expires(
    relay_api: httpx.AsyncClient, relay_worker: Any, relay_tenant: Tenant, sink: SmtpSink
) -> None:
    inbox = await _gated_inbox(relay_api, relay_tenant, approval_expiry_hours=0.0005)  # 1.8 s
    to = unique("expired")
    msg = await _compose(relay_api, relay_tenant.headers, inbox["id"], to)
    done = await wait_status(relay_api, relay_tenant.headers, msg["id"], "canceled", timeout=20)
    assert done["approval_state"] == "expired" and done["cancel_reason"] == "approval_expired"
    events = (await relay_api.get("/v1/events?type=message.approval_escalated",
                                  headers=relay_tenant.headers)).json()["data"]  # fmt: skip
    assert any(e["data"]["message_id"] == msg["id"] for e in events)
    assert sink.rcpt_attempts[to] == 0


async def test_request_flag_requires_approval_even_on_an_open_inbox(
    relay_api: httpx.AsyncClient, relay_worker: Any, relay_tenant: Tenant
) -> None:
    inbox = await create_inbox(relay_api, relay_tenant)
    r = await relay_api.post("/v1/messages/send", headers=relay_tenant.headers, json={
        "inbox_id": inbox["id"], "to": unique("flag"), "text": "t", "require_approval": True})
    assert r.status_code == 202 and r.json()["status"] == "awaiting_approval"
    c = await relay_api.post(f"/v1/messages/{r.json()['id']}/cancel", headers=relay_tenant.headers)
    assert c.status_code == 200 and c.json()["status"] == "canceled"
