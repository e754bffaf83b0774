"""Waits woken by the inbound pipeline: blocking, OTP, durable, broadcast, timeouts."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from httpx import AsyncClient

from tests.conftest import Tenant, create_inbox
from tests.helpers.eventually import eventually
from tests.helpers.smtp import send_raw, simple_message


async def deliver(ingress: Any, to: str, **kw: Any) -> None:
    await send_raw(ingress.port, kw.get("sender", "bob@example.com"), [to], simple_message(to, **kw))


async def started_waits(api: AsyncClient, sessionmaker: Any, inbox_id: str, n: int) -> None:
    from sqlalchemy import func, select

    from store.models import Wait

    async def registered() -> bool:
        async with sessionmaker() as s:
            count = await s.scalar(select(func.count()).select_from(Wait)
                                   .where(Wait.inbox_id == inbox_id, Wait.status == "active"))  # fmt: skip
        return count == n

    await eventually(registered)


async def test_blocking_wait_returns_mail_arriving_during_it(
    api: AsyncClient, tenant: Tenant, ingress: Any, worker: Any, sessionmaker: Any
) -> None:
    inbox = await create_inbox(api, tenant)
    waiting = asyncio.create_task(
        api.get(f"/v1/inboxes/{inbox['id']}/wait", params={"timeout": 30}, headers=tenant.headers)
    )
    await started_waits(api, sessionmaker, inbox["id"], 1)
    await deliver(ingress, inbox["address"], subject="you have mail")
    r = await waiting
    assert r.status_code == 200, r.text
    assert r.json()["subject"] == "you have mail"
    assert r.json()["pipeline_state"] in ("processed", "done")


async def test_blocking_wait_times_out_with_408(api: AsyncClient, tenant: Tenant, worker: Any) -> None:
    inbox = await create_inbox(api, tenant)
    r = await api.get(f"/v1/inboxes/{inbox['id']}/wait", params={"timeout": 1}, headers=tenant.headers)
    assert r.status_code == 408
    assert r.json()["code"] == "wait_timeout"


async def test_wait_returns_at_once_for_mail_received_after_since(
    api: AsyncClient, tenant: Tenant, ingress: Any, worker: Any
) -> None:
    inbox = await create_inbox(api, tenant)
    from datetime import UTC, datetime, timedelta

    since = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    await deliver(ingress, inbox["address"], subject="early bird")

    async def processed() -> bool:
        data = (await api.get(f"/v1/inboxes/{inbox['id']}/messages", headers=tenant.headers)).json()["data"]
        return bool(data) and data[0]["pipeline_state"] in ("processed", "done")

    await eventually(processed)
    r = await api.get(f"/v1/inboxes/{inbox['id']}/wait", params={"since": since, "timeout": 5},
                      headers=tenant.headers)  # fmt: skip
    assert r.status_code == 200 and r.json()["subject"] == "early bird"
    # Without `since`, the wait starts now: the earlier mail does not satisfy it.
    r = await api.get(f"/v1/inboxes/{inbox['id']}/wait", params={"timeout": 1}, headers=tenant.headers)
    assert r.status_code == 408


async def test_wait_filters_skip_mail_that_does_not_match(
    api: AsyncClient, tenant: Tenant, ingress: Any, worker: Any, sessionmaker: Any
) -> None:
    inbox = await create_inbox(api, tenant)
    waiting = asyncio.create_task(api.get(
        f"/v1/inboxes/{inbox['id']}/wait", params={"from": "alice@", "subject": "invoice", "timeout": 30},
        headers=tenant.headers))  # fmt: skip
    await started_waits(api, sessionmaker, inbox["id"], 1)
    await deliver(ingress, inbox["address"], subject="invoice 42", sender="mallory@example.com")
    await deliver(ingress, inbox["address"], subject="lunch?", sender="alice@example.com")
    await deliver(ingress, inbox["address"], subject="Your invoice", sender="alice@example.com")
    r = await waiting
    assert r.status_code == 200
    assert (r.json()["from"]["email"], r.json()["subject"]) == ("alice@example.com", "Your invoice")


async def test_otp_wait_returns_the_code(
    api: AsyncClient, tenant: Tenant, ingress: Any, worker: Any, sessionmaker: Any
) -> None:
    inbox = await create_inbox(api, tenant)
    waiting = asyncio.create_task(
        api.get(f"/v1/inboxes/{inbox['id']}/otp", params={"timeout": 30}, headers=tenant.headers))
    await started_waits(api, sessionmaker, inbox["id"], 1)
    await deliver(ingress, inbox["address"], subject="Welcome!", body="Thanks for joining.")
    await deliver(ingress, inbox["address"], subject="Verify your email",
                  body="Your verification code is 482913. It expires in 10 minutes.")  # fmt: skip
    r = await waiting
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["code"] == "482913" and body["all_codes"] == ["482913"]
    assert body["subject"] == "Verify your email" and body["from"] == "bob@example.com"
    assert body["expires"] is not None
    # The code may be answered from the wake-up before the pipeline stored it: moments later.

    async def stored_codes() -> list[Any] | None:
        msg = (await api.get(f"/v1/messages/{body['email_id']}", headers=tenant.headers)).json()
        return msg["extracted"]["otp_codes"] or None

    codes = await eventually(stored_codes)
    assert codes is not None and codes[0]["code"] == "482913"


async def test_durable_wait_survives_without_a_connection_and_long_polls(
    api: AsyncClient, tenant: Tenant, ingress: Any, worker: Any
) -> None:
    inbox = await create_inbox(api, tenant)
    r = await api.post("/v1/waits", json={"inbox_id": inbox["id"], "kind": "otp", "timeout_seconds": 120},
                       headers=tenant.headers)  # fmt: skip
    assert r.status_code == 201, r.text
    wait = r.json()
    assert wait["status"] == "active" and wait["workflow_id"] == f"WaitForMail/{wait['id']}"
    # Nobody is connected while the code arrives.
    await deliver(ingress, inbox["address"], subject="Code", body="Your one-time code: 7731")
    r = await api.get(f"/v1/waits/{wait['id']}", params={"wait": 20}, headers=tenant.headers)
    body = r.json()
    assert body["status"] == "matched", body
    assert body["otp"]["code"] == "7731" and body["message"]["subject"] == "Code"


async def test_one_message_wakes_every_matching_waiter(
    api: AsyncClient, tenant: Tenant, ingress: Any, worker: Any
) -> None:
    inbox = await create_inbox(api, tenant)
    ids = []
    for _ in range(3):
        r = await api.post("/v1/waits", json={"inbox_id": inbox["id"]}, headers=tenant.headers)
        ids.append(r.json()["id"])
    await deliver(ingress, inbox["address"], subject=f"broadcast {uuid.uuid4().hex[:4]}")
    results = [(await api.get(f"/v1/waits/{i}", params={"wait": 20}, headers=tenant.headers)).json()
               for i in ids]  # fmt: skip
    assert {r["status"] for r in results} == {"matched"}
    assert len({r["message_id"] for r in results}) == 1


async def test_waits_are_tenant_scoped(
    api: AsyncClient, tenant: Tenant, other_tenant: Tenant, worker: Any
) -> None:
    inbox = await create_inbox(api, tenant)
    r = await api.get(f"/v1/inboxes/{inbox['id']}/wait", params={"timeout": 1}, headers=other_tenant.headers)
    assert r.status_code == 404
    w = (await api.post("/v1/waits", json={"inbox_id": inbox["id"], "timeout_seconds": 5},
                        headers=tenant.headers)).json()  # fmt: skip
    assert (await api.get(f"/v1/waits/{w['id']}", headers=other_tenant.headers)).status_code == 404
    r = await api.post("/v1/waits", json={"inbox_id": inbox["id"]}, headers=other_tenant.headers)
    assert r.status_code == 404


async def test_wait_rejects_bad_timeouts_naming_the_field(api: AsyncClient, tenant: Tenant) -> None:
    inbox = await create_inbox(api, tenant)
    r = await api.get(f"/v1/inboxes/{inbox['id']}/wait", params={"timeout": 301}, headers=tenant.headers)
    assert r.status_code == 400 and r.json()["details"][0]["field"] == "timeout"
    r = await api.post("/v1/waits", json={"inbox_id": inbox["id"], "filters": {"colour": "red"}},
                       headers=tenant.headers)  # fmt: skip
    assert r.status_code == 400
