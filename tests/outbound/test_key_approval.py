"""Per-API-key approval: a key created with `requires_approval` holds every send it composes
(send, reply, forward, whatever the request says) in `awaiting_approval`, on an inbox that
requires nothing; the flag survives rotation and is inherited by keys that key creates."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.conftest import Tenant, create_inbox
from tests.outbound.conftest import wait_status

SCOPES = ["mail.send", "mail.read", "keys.manage"]


async def _key(api: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    r = await api.post("/v1/api-keys", headers=headers,
                       json={"name": "k", "scopes": SCOPES, **body})
    assert r.status_code == 201, r.text
    return r.json()


def _auth(key: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {key['api_key']}"}


async def test_every_send_of_an_approval_key_waits_for_approval(
    api: httpx.AsyncClient, worker: Any, tenant: Tenant
) -> None:
    inbox = await create_inbox(api, tenant)  # the inbox itself requires no approval
    gated = await _key(api, tenant.headers, requires_approval=True)
    free = await _key(api, tenant.headers)
    assert gated["requires_approval"] is True and free["requires_approval"] is False
    listed = (await api.get("/v1/api-keys", headers=tenant.headers)).json()["data"]
    assert {k["id"]: k["requires_approval"] for k in listed}[gated["id"]] is True

    body = {"inbox_id": inbox["id"], "to": "ann@example.com", "subject": "s", "text": "t",
            "require_approval": False}  # a request cannot opt out  # fmt: skip
    held = await api.post("/v1/messages/send", headers=_auth(gated), json=body)
    assert held.status_code == 202, held.text
    assert held.json()["status"] == "awaiting_approval"
    sent = await api.post("/v1/messages/send", headers=_auth(free), json=body)
    assert sent.status_code == 202 and sent.json()["status"] == "queued"
    await wait_status(api, _auth(free), sent.json()["id"], "captured")
    # Reply and forward go through the same gate.
    reply = await api.post(f"/v1/messages/{sent.json()['id']}/reply", headers=_auth(gated),
                           json={"text": "again"})  # fmt: skip
    forward = await api.post(f"/v1/messages/{sent.json()['id']}/forward", headers=_auth(gated),
                             json={"to": "bob@example.com"})  # fmt: skip
    for r in (reply, forward):
        assert r.status_code == 202, r.text
        assert r.json()["status"] == "awaiting_approval"
    await asyncio.sleep(0.5)
    state = await wait_status(api, _auth(gated), held.json()["id"], "awaiting_approval")
    assert state["requires_approval"] is True
    assert [x["status"] for x in state["recipients"]] == ["pending"]  # nothing went out

    # The owner (another key with mail.approve) approves: then it is sent.
    ok = await api.post(f"/v1/messages/{held.json()['id']}/approve", headers=tenant.headers)
    assert ok.status_code == 200, ok.text
    await wait_status(api, tenant.headers, held.json()["id"], "captured")


async def test_the_flag_survives_rotation_and_is_inherited_by_minted_keys(
    api: httpx.AsyncClient, worker: Any, tenant: Tenant
) -> None:
    inbox = await create_inbox(api, tenant)
    gated = await _key(api, tenant.headers, requires_approval=True)
    rotated = await api.post(f"/v1/api-keys/{gated['id']}/rotate", headers=tenant.headers)
    assert rotated.status_code in (200, 201), rotated.text
    assert rotated.json()["requires_approval"] is True
    minted = await _key(api, _auth(rotated.json()), requires_approval=False)
    assert minted["requires_approval"] is True
    r = await api.post("/v1/messages/send", headers=_auth(minted),
                       json={"inbox_id": inbox["id"], "to": "c@example.com", "text": "t"})
    assert r.status_code == 202 and r.json()["status"] == "awaiting_approval"
