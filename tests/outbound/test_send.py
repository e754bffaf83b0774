"""POST /v1/messages/send through the real api + worker with the dev default `capture`
transport: what it stores and shows, and every kind of bad input it refuses."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.conftest import Tenant, create_inbox
from tests.outbound.conftest import wait_status


async def _send(api: httpx.AsyncClient, t: Tenant, body: dict[str, Any],
                **headers: str) -> httpx.Response:  # fmt: skip
    return await api.post("/v1/messages/send", json=body, headers={**t.headers, **headers})


def _error_field(r: httpx.Response) -> str | None:
    details = r.json().get("details") or [{}]
    return details[0].get("field")


async def test_capture_send_is_stored_threaded_and_listed_as_outbound(
    api: httpx.AsyncClient, worker: Any, tenant: Tenant
) -> None:
    inbox = await create_inbox(api, tenant, local_part="sender-cap")
    r = await _send(api, tenant, {"inbox_id": inbox["id"], "to": "Ann <ann@example.com>",
                                  "cc": ["cc@example.com"], "bcc": "hidden@example.com",
                                  "subject": "Quarterly", "text": "Numbers attached."})
    assert r.status_code == 202, r.text
    sent = r.json()
    assert sent["workflow_id"] == f"OutboundMail/{sent['id']}"
    done = await wait_status(api, tenant.headers, sent["id"], "captured")
    assert {x["address"]: x["status"] for x in done["recipients"]} == {
        "ann@example.com": "captured", "cc@example.com": "captured", "hidden@example.com": "captured"}
    msg = (await api.get(f"/v1/messages/{sent['id']}", headers=tenant.headers)).json()
    assert msg["direction"] == "outbound" and msg["status"] == "captured"
    assert msg["from"]["email"] == inbox["address"] and msg["subject"] == "Quarterly"
    raw = (await api.get(f"/v1/messages/{sent['id']}/raw", headers=tenant.headers)).content
    assert b"Bcc" not in raw and b"hidden@example.com" not in raw  # bcc is envelope-only
    assert b"To: Ann <ann@example.com>" in raw
    listed = (await api.get(f"/v1/inboxes/{inbox['id']}/messages?direction=outbound",
                            headers=tenant.headers)).json()["data"]  # fmt: skip
    assert [m["id"] for m in listed] == [sent["id"]]
    thread = (await api.get(f"/v1/threads/{msg['thread_id']}", headers=tenant.headers)).json()
    assert thread["last_direction"] == "outbound" and thread["message_count"] == 1


async def test_signature_of_the_inbox_is_appended(api: httpx.AsyncClient, worker: Any,
                                                  tenant: Tenant) -> None:  # fmt: skip
    inbox = await create_inbox(api, tenant)
    r = await api.put(f"/v1/inboxes/{inbox['id']}/send-settings", headers=tenant.headers,
                      json={"signature_text": "Ann\nAcme Inc.", "signature_html": "<b>Ann</b>"})
    assert r.status_code == 200, r.text
    r = await _send(api, tenant, {"inbox_id": inbox["id"], "to": "x@example.com", "subject": "s",
                                  "text": "Hello", "html": "<p>Hello</p>"})
    assert r.status_code == 202, r.text
    msg = r.json()["message"]
    assert msg["text"].endswith("Hello\n\n-- \nAnn\nAcme Inc.")
    assert "<b>Ann</b>" in msg["html"]


async def test_idempotency_key_replays_refuses_other_body_and_in_flight(
    api: httpx.AsyncClient, worker: Any, tenant: Tenant, sessionmaker: Any
) -> None:
    from store import outbound

    inbox = await create_inbox(api, tenant)
    body = {"inbox_id": inbox["id"], "to": "idem@example.com", "subject": "once", "text": "x"}
    first = await _send(api, tenant, body, **{"Idempotency-Key": "order-42"})
    assert first.status_code == 202 and "Idempotent-Replayed" not in first.headers
    again = await _send(api, tenant, body, **{"Idempotency-Key": "order-42"})
    assert again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    other = await _send(api, tenant, {**body, "subject": "twice"}, **{"Idempotency-Key": "order-42"})
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    # A first request still in flight holds the key: a concurrent duplicate gets 409.
    me = (await api.get("/v1", headers=tenant.headers)).json()["principal"]
    from api.actions.outbound import request_hash

    pending = {**body, "subject": "pending"}
    from contracts.sending import SendRequest

    digest = request_hash("send", inbox["id"], SendRequest.model_validate(pending).model_dump(mode="json"))
    async with sessionmaker.begin() as s:
        await outbound.claim_key(s, org_id=tenant.org_id, api_key_id=me["api_key_id"],
                                 key="order-43", operation="send", request_hash=digest)  # fmt: skip
    busy = await _send(api, tenant, pending, **{"Idempotency-Key": "order-43"})
    assert busy.status_code == 409, busy.text
    sent = await api.get(f"/v1/inboxes/{inbox['id']}/messages?direction=outbound", headers=tenant.headers)
    assert len(sent.json()["data"]) == 1  # only the first send exists


async def test_bad_input_is_a_4xx_naming_the_field(api: httpx.AsyncClient, tenant: Tenant,
                                                   other_tenant: Tenant) -> None:  # fmt: skip
    inbox = await create_inbox(api, tenant)
    base = {"inbox_id": inbox["id"], "to": "ok@example.com", "subject": "s", "text": "t"}
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"to": "not-an-address"}, 422, "to"),
        ({"to": ["ok@example.com", "bad@@example.com"]}, 422, "to[1]"),
        ({"subject": "hi\r\nBcc: victim@example.com"}, 422, "subject"),
        ({"to": "a@example.com\r\nBcc: victim@example.com"}, 422, "to"),
        ({"headers": {"X-Trace": "a\nb"}}, 422, "headers.X-Trace"),
        ({"headers": {"Bcc": "victim@example.com"}}, 422, "headers.Bcc"),
        ({"attachments": ["att_doesnotexist"]}, 404, "attachments[0]"),
        ({"send_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat()}, 422, "send_at"),
        ({"send_at": (datetime.now(UTC) + timedelta(days=4000)).isoformat()}, 422, "send_at"),
        ({"text": None}, 422, "text"),
        ({"to": [f"r{i}@example.com" for i in range(51)]}, 422, "to"),
        ({"thread_id": "thr_nope"}, 404, "thread_id"),
    ]
    for change, status, fld in cases:
        r = await _send(api, tenant, {**base, **change})
        assert r.status_code == status, (change, r.text)
        assert _error_field(r) == fld, (change, r.text)
    # Another tenant's inbox and attachment are not found.
    theirs = await create_inbox(api, other_tenant)
    r = await _send(api, tenant, {**base, "inbox_id": theirs["id"]})
    assert r.status_code == 404 and _error_field(r) == "inbox_id"
    up = await api.post("/v1/attachments", headers=other_tenant.headers,
                        json={"filename": "a.txt", "content": base64.b64encode(b"secret").decode()})
    assert up.status_code == 201, up.text
    r = await _send(api, tenant, {**base, "attachments": [up.json()["id"]]})
    assert r.status_code == 404 and _error_field(r) == "attachments[0]"
    # Nothing of the refused sends was stored.
    listed = await api.get(f"/v1/inboxes/{inbox['id']}/messages", headers=tenant.headers)
    assert listed.json()["data"] == []


async def test_send_needs_the_send_scope(api: httpx.AsyncClient, tenant: Tenant) -> None:
    inbox = await create_inbox(api, tenant)
    r = await api.post("/v1/api-keys", json={"name": "ro", "scopes": ["mail.read"]}, headers=tenant.headers)
    ro = {"Authorization": f"Bearer {r.json()['api_key']}"}
    r = await api.post("/v1/messages/send", headers=ro,
                       json={"inbox_id": inbox["id"], "to": "a@example.com", "text": "x"})
    assert r.status_code == 403
