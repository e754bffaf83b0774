"""The messages API over mail delivered through SMTP and the real pipeline: filters, flags,
delete, raw bytes, attachments and their signed download URLs, and the event log."""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from typing import Any

from httpx import AsyncClient

from tests.conftest import Tenant, create_inbox
from tests.helpers.eventually import eventually
from tests.helpers.smtp import send_raw, simple_message


async def deliver_all(api: AsyncClient, t: Tenant, ingress: Any, inbox: dict[str, Any],
                      raws: list[tuple[str, bytes]]) -> list[dict[str, Any]]:  # fmt: skip
    for sender, raw in raws:
        await send_raw(ingress.port, sender, [inbox["address"]], raw)

    async def all_done() -> list[dict[str, Any]] | None:
        data = (await api.get(f"/v1/inboxes/{inbox['id']}/messages?limit=100", headers=t.headers)).json()["data"]
        return data if len(data) == len(raws) and all(m["pipeline_state"] == "done" for m in data) else None

    return await eventually(all_done, timeout=40)


def with_attachment(to: str, content: bytes, filename: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "files@example.com", to, "Your invoice"
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@example.com>"
    msg.set_content("Please find the invoice attached.")
    msg.add_attachment(content, maintype="application", subtype="pdf", filename=filename)
    return msg.as_bytes()


async def test_list_filters_by_sender_subject_category_and_unread(
    api: AsyncClient, tenant: Tenant, ingress: Any, worker: Any
) -> None:
    inbox = await create_inbox(api, tenant)
    msgs = await deliver_all(api, tenant, ingress, inbox, [
        ("alice@shop.example", simple_message(inbox["address"], subject="Your order #5521 shipped",
                                              sender="alice@shop.example")),
        ("bob@friends.example", simple_message(inbox["address"], subject="dinner on friday?",
                                               sender="bob@friends.example")),
        ("noreply@auth.example", simple_message(inbox["address"], subject="Verify your email",
                                                body="Your verification code is 661204", sender="noreply@auth.example")),
    ])  # fmt: skip
    base = f"/v1/inboxes/{inbox['id']}/messages"

    async def subjects(**params: Any) -> list[str]:
        r = await api.get(base, params=params, headers=tenant.headers)
        assert r.status_code == 200, r.text
        return sorted(m["subject"] for m in r.json()["data"])

    assert await subjects(**{"from": "ALICE@"}) == ["Your order #5521 shipped"]
    assert await subjects(subject="DINNER") == ["dinner on friday?"]
    assert await subjects(category="verification") == ["Verify your email"]
    assert await subjects(subject="100%_") == []  # LIKE wildcards are literal
    verify = next(m for m in msgs if m["subject"] == "Verify your email")
    r = await api.patch(f"/v1/messages/{verify['id']}", json={"is_read": True, "is_starred": True}, headers=tenant.headers)
    assert r.status_code == 200 and r.json()["is_read"] and r.json()["is_starred"]
    assert "Verify your email" not in await subjects(unread=True)
    assert await subjects(unread=False) == ["Verify your email"]


async def test_message_carries_extraction_category_and_thread(
    api: AsyncClient, tenant: Tenant, ingress: Any, worker: Any
) -> None:
    inbox = await create_inbox(api, tenant)
    [m] = await deliver_all(api, tenant, ingress, inbox, [("noreply@svc.example", simple_message(
        inbox["address"], subject="Sign in to Svc", sender="noreply@svc.example",
        body="Use code 90 21 77 to sign in. The code expires in 15 minutes.\r\n"
             "Or click https://svc.example/verify?token=abc123def456"))])  # fmt: skip
    full = (await api.get(f"/v1/messages/{m['id']}", headers=tenant.headers)).json()
    assert full["category"] == "verification" and "verification" in full["labels"]
    assert [c["code"] for c in full["extracted"]["otp_codes"]] == ["902177"]
    assert full["extracted"]["code_expiry_seconds"] == 900
    assert full["thread_id"] and full["authentication_results"]["spf"] in ("none", "temperror", "permerror", "neutral", "softfail", "fail", "pass")


async def test_delete_removes_message_and_raw_returns_original_bytes(
    api: AsyncClient, tenant: Tenant, ingress: Any, worker: Any
) -> None:
    inbox = await create_inbox(api, tenant)
    raw = simple_message(inbox["address"], subject="keep the bytes", body="exact body")
    [m] = await deliver_all(api, tenant, ingress, inbox, [("bob@example.com", raw)])
    r = await api.get(f"/v1/messages/{m['id']}/raw", headers=tenant.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("message/rfc822")
    assert b"Subject: keep the bytes" in r.content and b"exact body" in r.content
    reader = (await api.post("/v1/api-keys", json={"scopes": ["mail.read"]}, headers=tenant.headers)).json()
    r = await api.delete(f"/v1/messages/{m['id']}", headers={"Authorization": f"Bearer {reader['api_key']}"})
    assert r.status_code == 403  # deleting needs mail.manage
    assert (await api.delete(f"/v1/messages/{m['id']}", headers=tenant.headers)).status_code == 204
    assert (await api.get(f"/v1/messages/{m['id']}", headers=tenant.headers)).status_code == 404


async def test_attachment_metadata_and_signed_download(
    api: AsyncClient, tenant: Tenant, other_tenant: Tenant, ingress: Any, worker: Any
) -> None:
    inbox = await create_inbox(api, tenant)
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 40
    [m] = await deliver_all(api, tenant, ingress, inbox, [("files@example.com", with_attachment(inbox["address"], pdf, "../../etc/invoice 7.pdf"))])
    full = (await api.get(f"/v1/messages/{m['id']}", headers=tenant.headers)).json()
    assert full["has_attachments"]
    [att] = full["attachments"]
    assert att["filename"] == "invoice 7.pdf" and att["size"] == len(pdf) and att["content_type"] == "application/pdf"
    assert (await api.get(f"/v1/attachments/{att['id']}", headers=tenant.headers)).json()["sha256"] == att["sha256"]
    assert (await api.get(f"/v1/attachments/{att['id']}", headers=other_tenant.headers)).status_code == 404
    signed = (await api.get(f"/v1/attachments/{att['id']}/url", headers=tenant.headers)).json()
    path = signed["url"].split("://", 1)[1].split("/", 1)[1]
    r = await api.get("/" + path)  # no API key: the signature is the credential
    assert r.status_code == 200 and r.content == pdf
    tampered = ("/" + path).replace("sig=", "sig=x")
    assert (await api.get(tampered)).status_code == 403
    expired = ("/" + path).replace("expires=", "expires=1")
    assert (await api.get(expired)).status_code == 403


async def test_events_record_received_once_and_thread_created(
    api: AsyncClient, tenant: Tenant, ingress: Any, worker: Any, sessionmaker: Any
) -> None:
    from sqlalchemy import select

    from store.models import Event

    inbox = await create_inbox(api, tenant)
    [m] = await deliver_all(api, tenant, ingress, inbox, [("bob@example.com", simple_message(inbox["address"], subject="event me"))])
    async with sessionmaker() as s:
        events = list((await s.scalars(select(Event).where(Event.inbox_id == inbox["id"]))).all())
    by_type = {e.type: e for e in events}
    assert sorted(e.type for e in events) == ["message.received", "thread.created"]
    payload = by_type["message.received"].payload["message"]
    assert payload["id"] == m["id"] and payload["subject"] == "event me" and "text" in payload
    assert by_type["thread.created"].resource_id == m["thread_id"]
