"""Uploads (base64 JSON and multipart, sniffed content type, size limit) used in a send, and
forwarding a received message inline or as an attached message/rfc822."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from tests.conftest import Tenant, create_inbox
from tests.helpers.eventually import eventually
from tests.helpers.smtp import send_raw, simple_message
from tests.helpers.smtp_sink import SmtpSink
from tests.outbound.conftest import unique, wait_status

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489")


async def test_upload_sniffs_type_and_the_file_goes_out_attached(
    api: httpx.AsyncClient, worker: Any, tenant: Tenant
) -> None:
    # Declared as text, but the bytes are a PNG: the sniffed type wins.
    r = await api.post("/v1/attachments", headers=tenant.headers, json={
        "filename": "../../logo.png", "content_type": "text/plain",
        "content": base64.b64encode(PNG).decode()})  # fmt: skip
    assert r.status_code == 201, r.text
    png = r.json()
    assert png["content_type"] == "image/png" and png["filename"] == "logo.png"
    assert png["size"] == len(PNG)
    r = await api.post("/v1/attachments", headers=tenant.headers,
                       files={"file": ("notes.txt", b"plain words", "application/x-whatever")})
    assert r.status_code == 201, r.text
    txt = r.json()
    assert txt["content_type"] == "application/x-whatever" and txt["filename"] == "notes.txt"
    inbox = await create_inbox(api, tenant)
    r = await api.post("/v1/messages/send", headers=tenant.headers, json={
        "inbox_id": inbox["id"], "to": "a@example.com", "text": "see attached",
        "attachments": [png["id"], txt["id"]]})  # fmt: skip
    assert r.status_code == 202, r.text
    done = await wait_status(api, tenant.headers, r.json()["id"], "captured")
    atts = done["message"]["attachments"]
    assert [(a["filename"], a["content_type"], a["size"]) for a in atts] == [
        ("logo.png", "image/png", len(PNG)), ("notes.txt", "application/x-whatever", 11)]
    raw = (await api.get(f"/v1/messages/{done['id']}/raw", headers=tenant.headers)).content
    assert b'filename="logo.png"' in raw and base64.b64encode(PNG)[:20] in raw


async def test_upload_refuses_bad_and_oversized_input(api: httpx.AsyncClient, tenant: Tenant,
                                                     settings: Any) -> None:  # fmt: skip
    bad = await api.post("/v1/attachments", headers=tenant.headers,
                         json={"filename": "x", "content": "%%% not base64"})
    assert bad.status_code == 422 and bad.json()["details"][0]["field"] == "content"
    empty = await api.post("/v1/attachments", headers=tenant.headers, json={"filename": "x", "content": ""})
    assert empty.status_code == 422
    missing = await api.post("/v1/attachments", headers=tenant.headers, json={"content": "aGk="})
    assert missing.status_code == 422 and missing.json()["details"][0]["field"] == "filename"
    big = b"x" * (settings.outbound_max_attachment_bytes + 1)
    r = await api.post("/v1/attachments", headers=tenant.headers, files={"file": ("big.bin", big)})
    assert r.status_code == 413, r.text


async def test_forward_inline_and_as_attachment(
    relay_api: httpx.AsyncClient, relay_worker: Any, worker: Any, ingress: Any,
    relay_tenant: Tenant, sink: SmtpSink,
) -> None:
    inbox = await create_inbox(relay_api, relay_tenant)
    raw = simple_message(inbox["address"], subject="Invoice 7", body="Total: 42 EUR",
                         sender="billing@example.com", mid="inv7@example.com")  # fmt: skip
    await send_raw(ingress.port, "billing@example.com", [inbox["address"]], raw)

    async def received() -> dict[str, Any] | None:
        data = (await relay_api.get(f"/v1/inboxes/{inbox['id']}/messages",
                                    headers=relay_tenant.headers)).json()["data"]  # fmt: skip
        return data[0] if data and data[0]["pipeline_state"] == "done" else None

    parent = await eventually(received, timeout=30)
    inline_to, attached_to = unique("fwd-inline"), unique("fwd-attach")
    r = await relay_api.post(f"/v1/messages/{parent['id']}/forward", headers=relay_tenant.headers,
                             json={"to": inline_to, "comment": "FYI, see below"})
    assert r.status_code == 202, r.text
    await wait_status(relay_api, relay_tenant.headers, r.json()["id"], "sent")
    m = sink.for_rcpt(inline_to)[0].message
    assert m["Subject"] == "Fwd: Invoice 7"
    body = m.get_body(("plain",)).get_content()
    assert body.startswith("FYI, see below") and "Total: 42 EUR" in body
    assert "From: Bob <billing@example.com>" in body
    r = await relay_api.post(f"/v1/messages/{parent['id']}/forward", headers=relay_tenant.headers,
                             json={"to": attached_to, "mode": "attachment", "comment": "attached"})
    assert r.status_code == 202, r.text
    await wait_status(relay_api, relay_tenant.headers, r.json()["id"], "sent")
    m = sink.for_rcpt(attached_to)[0].message
    parts = [p for p in m.iter_attachments() if p.get_content_type() == "message/rfc822"]
    assert len(parts) == 1
    inner = parts[0].get_content()
    assert inner["Message-ID"] == "<inv7@example.com>" and inner["Subject"] == "Invoice 7"
