"""Threading over SMTP: references, out-of-order arrival, the subject fallback and its limits."""

from __future__ import annotations

import uuid
from typing import Any

from httpx import AsyncClient

from tests.conftest import Tenant, create_inbox
from tests.helpers.eventually import eventually
from tests.helpers.smtp import send_raw


def mail(to: str, sender: str, subject: str, mid: str, extra: str = "", body: str = "hello") -> bytes:
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{mid}>\r\n{extra}"
            f"\r\n{body}\r\n").encode()  # fmt: skip


async def deliver_and_wait(api: AsyncClient, t: Tenant, ingress: Any, inbox: dict[str, Any],
                           raw: bytes, sender: str) -> dict[str, Any]:  # fmt: skip
    before = {m["id"] for m in (await api.get(f"/v1/inboxes/{inbox['id']}/messages?limit=100",
                                              headers=t.headers)).json()["data"]}  # fmt: skip
    await send_raw(ingress.port, sender, [inbox["address"]], raw)

    async def threaded() -> dict[str, Any] | None:
        data = (await api.get(f"/v1/inboxes/{inbox['id']}/messages?limit=100", headers=t.headers)).json()["data"]
        new = [m for m in data if m["id"] not in before and m["thread_id"]]
        return new[0] if new else None

    return await eventually(threaded)


async def test_reply_with_in_reply_to_joins_the_thread(
    api: AsyncClient, tenant: Tenant, ingress: Any, worker: Any
) -> None:
    inbox = await create_inbox(api, tenant)
    a = f"{uuid.uuid4().hex}@example.com"
    first = await deliver_and_wait(api, tenant, ingress, inbox, mail(inbox["address"], "ann@example.com", "Shipping delay", a), "ann@example.com")
    second = await deliver_and_wait(api, tenant, ingress, inbox, mail(
        inbox["address"], "ann@example.com", "Different subject entirely", f"{uuid.uuid4().hex}@example.com",
        extra=f"In-Reply-To: <{a}>\r\nReferences: <{a}>\r\n"), "ann@example.com")  # fmt: skip
    assert second["thread_id"] == first["thread_id"]
    t = (await api.get(f"/v1/threads/{first['thread_id']}", headers=tenant.headers)).json()
    assert t["message_count"] == 2 and [m["id"] for m in t["messages"]] == [first["id"], second["id"]]
    assert t["subject"] == "Shipping delay" and "ann@example.com" in t["participants"]


async def test_parent_arriving_after_its_reply_joins_the_replys_thread(
    api: AsyncClient, tenant: Tenant, ingress: Any, worker: Any
) -> None:
    inbox = await create_inbox(api, tenant)
    parent = f"{uuid.uuid4().hex}@example.com"
    reply = await deliver_and_wait(api, tenant, ingress, inbox, mail(
        inbox["address"], "bo@example.com", "Re: plan", f"{uuid.uuid4().hex}@x", extra=f"In-Reply-To: <{parent}>\r\n"),
        "bo@example.com")  # fmt: skip
    original = await deliver_and_wait(api, tenant, ingress, inbox, mail(inbox["address"], "bo@example.com", "plan", parent), "bo@example.com")
    assert original["thread_id"] == reply["thread_id"]


async def test_reply_subject_without_references_joins_a_participants_thread(
    api: AsyncClient, tenant: Tenant, ingress: Any, worker: Any
) -> None:
    inbox = await create_inbox(api, tenant)
    first = await deliver_and_wait(api, tenant, ingress, inbox, mail(inbox["address"], "cy@example.com", "Contract renewal for 2027", f"{uuid.uuid4().hex}@x"), "cy@example.com")
    again = await deliver_and_wait(api, tenant, ingress, inbox, mail(inbox["address"], "cy@example.com", "AW: RE[2]: Contract renewal for 2027", f"{uuid.uuid4().hex}@x"), "cy@example.com")
    assert again["thread_id"] == first["thread_id"]
    # A stranger replying to the same subject is not joined to Cy's conversation.
    stranger = await deliver_and_wait(api, tenant, ingress, inbox, mail(inbox["address"], "zed@else.org", "Re: Contract renewal for 2027", f"{uuid.uuid4().hex}@x"), "zed@else.org")
    assert stranger["thread_id"] != first["thread_id"]


async def test_generic_subjects_from_strangers_are_two_threads(
    api: AsyncClient, tenant: Tenant, ingress: Any, worker: Any
) -> None:
    inbox = await create_inbox(api, tenant)
    one = await deliver_and_wait(api, tenant, ingress, inbox, mail(inbox["address"], "p@a.com", "Question", f"{uuid.uuid4().hex}@x"), "p@a.com")
    two = await deliver_and_wait(api, tenant, ingress, inbox, mail(inbox["address"], "q@b.com", "Re: Question", f"{uuid.uuid4().hex}@x"), "q@b.com")
    same_sender = await deliver_and_wait(api, tenant, ingress, inbox, mail(inbox["address"], "p@a.com", "Re: Question", f"{uuid.uuid4().hex}@x"), "p@a.com")
    assert len({one["thread_id"], two["thread_id"], same_sender["thread_id"]}) == 3


async def test_forward_without_references_starts_a_new_thread(
    api: AsyncClient, tenant: Tenant, ingress: Any, worker: Any
) -> None:
    inbox = await create_inbox(api, tenant)
    first = await deliver_and_wait(api, tenant, ingress, inbox, mail(inbox["address"], "d@example.com", "Budget review Q3", f"{uuid.uuid4().hex}@x"), "d@example.com")
    fwd = await deliver_and_wait(api, tenant, ingress, inbox, mail(inbox["address"], "d@example.com", "Fwd: Budget review Q3", f"{uuid.uuid4().hex}@x"), "d@example.com")
    assert fwd["thread_id"] != first["thread_id"]


async def test_thread_list_is_paginated_and_tenant_scoped(
    api: AsyncClient, tenant: Tenant, other_tenant: Tenant, ingress: Any, worker: Any
) -> None:
    inbox = await create_inbox(api, tenant)
    for i in range(3):
        await deliver_and_wait(api, tenant, ingress, inbox, mail(inbox["address"], f"u{i}@example.com", f"Topic number {i}", f"{uuid.uuid4().hex}@x"), f"u{i}@example.com")
    p1 = (await api.get("/v1/threads", params={"inbox_id": inbox["id"], "limit": 2}, headers=tenant.headers)).json()
    assert len(p1["data"]) == 2 and p1["has_more"]
    p2 = (await api.get("/v1/threads", params={"inbox_id": inbox["id"], "limit": 2, "cursor": p1["next_cursor"]},
                        headers=tenant.headers)).json()  # fmt: skip
    assert len(p2["data"]) == 1 and not p2["has_more"]
    assert [t["subject"] for t in p1["data"] + p2["data"]] == ["Topic number 2", "Topic number 1", "Topic number 0"]
    r = await api.get("/v1/threads", params={"inbox_id": inbox["id"]}, headers=other_tenant.headers)
    assert r.status_code == 404
    r = await api.get(f"/v1/threads/{p1['data'][0]['id']}", headers=other_tenant.headers)
    assert r.status_code == 404
