"""Pidgebox-compatible agent mail through the real API, pipeline, waits and worker: aliases,
auto-created mailboxes, the inbound pipeline, waits, replies, tenancy, validation and scopes."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from httpx import AsyncClient, Response

from settings import Settings
from tests.conftest import Tenant
from tests.helpers.eventually import eventually
from tests.helpers.smtp import send_raw, simple_message


def alias(name: str) -> str:
    """Aliases live in one global namespace, so every test uses fresh ones."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


async def send(api: AsyncClient, t: Tenant, as_: str, to: Any, subject: str = "Status report",
               body: str = "All systems nominal.") -> Response:  # fmt: skip
    return await api.post("/api/send", json={"as": as_, "to": to, "subject": subject, "body": body},
                          headers=t.headers)  # fmt: skip


async def processed(api: AsyncClient, t: Tenant, message_id: str) -> dict[str, Any]:
    """The message once the inbound pipeline finished with it (read through /v1, not marking it)."""

    async def done() -> dict[str, Any] | None:
        m = (await api.get(f"/v1/messages/{message_id}", headers=t.headers)).json()
        return m if m.get("pipeline_state") == "done" else None

    return await eventually(done, timeout=30)


async def active_waits(sessionmaker: Any, address: str, n: int) -> None:
    from sqlalchemy import func, select

    from store.models import Inbox, Wait

    async def registered() -> bool:
        async with sessionmaker() as s:
            count = await s.scalar(
                select(func.count()).select_from(Wait).join(Inbox, Inbox.id == Wait.inbox_id)
                .where(Inbox.address == address, Wait.status == "active"))  # fmt: skip
        return count == n

    await eventually(registered)


async def call(api: AsyncClient, headers: dict[str, str], path: str, **body: Any) -> Response:
    """POST a Pidgebox operation; `as_` stands for the `as` field."""
    if "as_" in body:
        body["as"] = body.pop("as_")
    return await api.post(f"/api/{path}", json=body, headers=headers)


async def inbox(api: AsyncClient, headers: dict[str, str], as_: str) -> Response:
    return await api.get("/api/inbox", params={"as": as_}, headers=headers)


def field_of(r: Response) -> str:
    return str(r.json()["details"][0]["field"])


async def test_send_between_new_aliases_then_inbox_read_delete(
    api: AsyncClient, tenant: Tenant, worker: Any, settings: Settings
) -> None:
    a, b = alias("alice"), alias("bob")
    r = await send(api, tenant, a, b.upper(), body="Deploy finished.")
    assert r.status_code == 200, r.text
    sent = r.json()
    assert sent["delivered"] == 1 and len(sent["ids"]) == 1
    assert sent["workflow_ids"] == [f"InboundMail/{sent['ids'][0]}"]
    # Both aliases now exist as inboxes of the sender's organization.
    listed = (await api.get("/v1/inboxes", headers=tenant.headers)).json()["data"]
    domain = settings.agents_domain
    assert {f"{a}@{domain}", f"{b}@{domain}"} <= {i["address"] for i in listed}

    box = (await inbox(api, tenant.headers, f"{b}@{domain}")).json()
    assert box["mailbox"] == f"{b}@{domain}"
    [header] = box["messages"]
    assert (header["id"], header["from"]) == (sent["ids"][0], f"{a}@{domain}")
    assert header["subject"] == "Status report"
    assert header["to"] == [f"{b}@{domain}"] and header["is_read"] is False
    assert (await inbox(api, tenant.headers, a)).json()["messages"] == []

    await processed(api, tenant, header["id"])
    r = await call(api, tenant.headers, "read", as_=b, message_id=header["id"])
    assert r.status_code == 200, r.text
    assert r.json()["text"].strip() == "Deploy finished." and r.json()["is_read"] is True
    box = (await inbox(api, tenant.headers, b)).json()
    assert box["messages"][0]["is_read"] is True

    # Only the recipient's mailbox holds it.
    r = await call(api, tenant.headers, "read", as_=a, message_id=header["id"])
    assert r.status_code == 404 and r.json()["message"] == "Not found in your mailbox"
    r = await call(api, tenant.headers, "delete", as_=b, message_id=header["id"])
    assert r.status_code == 200 and r.json() == {"deleted": True, "message_id": header["id"]}
    r = await call(api, tenant.headers, "read", as_=b, message_id=header["id"])
    assert r.status_code == 404
    r = await call(api, tenant.headers, "delete", as_=b, message_id=header["id"])
    assert r.status_code == 404
    assert (await inbox(api, tenant.headers, b)).json()["messages"] == []


async def test_sent_mail_runs_the_inbound_pipeline_as_real_mail(
    api: AsyncClient, tenant: Tenant, worker: Any, settings: Settings
) -> None:
    a, b = alias("planner"), alias("builder")
    sent = (await send(api, tenant, a, [b], subject="Build plan for Tuesday")).json()
    m = await processed(api, tenant, sent["ids"][0])
    assert m["thread_id"] and m["category"] and m["workflow_id"] == sent["workflow_ids"][0]
    assert m["message_id"].endswith(f"@{settings.agents_domain}")
    assert m["envelope_from"] == f"{a}@{settings.agents_domain}"
    assert m["envelope_to"] == [f"{b}@{settings.agents_domain}"]
    assert m["authentication_results"] is not None  # the same authentication step ran
    raw = (await api.get(f"/v1/messages/{m['id']}/raw", headers=tenant.headers)).content
    assert b"\r\nDate: " in raw and b"\r\nSubject: Build plan for Tuesday\r\n" in raw


async def test_send_allows_50_recipients_deduplicated_and_refuses_51(
    api: AsyncClient, tenant: Tenant, worker: Any, settings: Settings
) -> None:
    a = alias("boss")
    crowd = [alias("w") for _ in range(49)]
    twice = crowd[0].upper() + f"@{settings.agents_domain}"  # the same alias, spelled otherwise
    r = await send(api, tenant, a, [*crowd, twice])
    assert r.status_code == 200, r.text
    assert r.json()["delivered"] == 49 and len(set(r.json()["ids"])) == 49
    r = await send(api, tenant, a, [alias("w") for _ in range(51)])
    assert r.status_code == 400 and field_of(r) == "to"
    r = await send(api, tenant, a, [])
    assert r.status_code == 400 and field_of(r) == "to"


async def test_wait_is_woken_by_mail_from_the_awaited_sender(
    api: AsyncClient, tenant: Tenant, worker: Any, sessionmaker: Any, settings: Settings
) -> None:
    a, b, c = alias("asker"), alias("answerer"), alias("bystander")
    wait_for_b = {"as": a, "from": b, "max_wait_seconds": 30}
    waiting = asyncio.create_task(api.post("/api/wait", json=wait_for_b, headers=tenant.headers))
    await active_waits(sessionmaker, f"{a}@{settings.agents_domain}", 1)
    assert (await send(api, tenant, c, a, subject="Noise")).status_code == 200
    assert (await send(api, tenant, b, a, subject="The answer")).status_code == 200
    r = await waiting
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["timeout"] is False and body["workflow_id"].startswith("WaitForMail/")
    [m] = body["messages"]
    assert (m["subject"], m["from"]["email"]) == ("The answer", f"{b}@{settings.agents_domain}")
    assert m["is_read"] is True


async def test_wait_timeout_answers_the_timeout_marker(
    api: AsyncClient, tenant: Tenant, worker: Any
) -> None:
    a = alias("patient")
    r = await call(api, tenant.headers, "wait", as_=a, max_wait_seconds=1)
    assert r.status_code == 200, r.text
    assert r.json()["timeout"] is True and r.json()["messages"] == []
    r = await call(api, tenant.headers, "wait", as_=a, max_wait_seconds=91)
    assert r.status_code == 400 and field_of(r) == "max_wait_seconds"


async def test_reply_threads_with_the_original(
    api: AsyncClient, tenant: Tenant, worker: Any, settings: Settings
) -> None:
    a, b = alias("lead"), alias("dev")
    first = await send(api, tenant, a, b, subject="Migration schedule")
    original = await processed(api, tenant, first.json()["ids"][0])
    r = await call(api, tenant.headers, "reply", as_=b, message_id=original["id"], body="Friday.")
    assert r.status_code == 200 and r.json()["delivered"] == 1, r.text
    answer = await processed(api, tenant, r.json()["ids"][0])
    assert answer["inbox_id"] != original["inbox_id"]  # it went to the sender's mailbox
    assert answer["subject"] == "Re: Migration schedule"
    assert answer["from"]["email"] == f"{b}@{settings.agents_domain}"
    assert answer["in_reply_to"] == original["message_id"]
    # Replying to the reply lands next to the original in b's mailbox, in its thread.
    r = await call(api, tenant.headers, "reply", as_=a, message_id=answer["id"], body="Booked.")
    back = await processed(api, tenant, r.json()["ids"][0])
    assert back["inbox_id"] == original["inbox_id"] and back["thread_id"] == original["thread_id"]
    assert back["subject"] == "Re: Migration schedule"  # not "Re: Re: ..."
    assert back["references"] == [original["message_id"], answer["message_id"]]


async def test_reply_to_mail_from_outside_is_422(
    api: AsyncClient, tenant: Tenant, worker: Any, ingress: Any, settings: Settings
) -> None:
    b = alias("support")
    address = f"{b}@{settings.agents_domain}"
    await inbox(api, tenant.headers, b)  # creates the alias
    await send_raw(ingress.port, "carol@example.com", [address],
                   simple_message(address, subject="Hi", sender="carol@example.com"))  # fmt: skip

    async def arrived() -> list[dict[str, Any]]:
        return (await inbox(api, tenant.headers, b)).json()["messages"]

    [m] = await eventually(arrived)
    r = await call(api, tenant.headers, "reply", as_=b, message_id=m["id"], body="x")
    assert r.status_code == 422 and r.json()["code"] == "reply_not_local"


async def test_another_tenant_cannot_touch_an_alias_or_its_mail(
    api: AsyncClient, tenant: Tenant, other_tenant: Tenant, worker: Any, settings: Settings
) -> None:
    a, b, mine = alias("owner"), alias("private"), alias("outsider")
    msg_id = (await send(api, tenant, a, b)).json()["ids"][0]
    h = other_tenant.headers
    assert (await inbox(api, h, b)).status_code == 404
    for path in ("read", "delete"):
        r = await call(api, h, path, as_=b, message_id=msg_id)
        assert r.status_code == 404 and field_of(r) == "as"
        r = await call(api, h, path, as_=mine, message_id=msg_id)
        assert r.status_code == 404
    r = await call(api, h, "reply", as_=b, message_id=msg_id, body="x")
    assert r.status_code == 404
    assert (await send(api, other_tenant, b, a)).status_code == 404
    r = await call(api, h, "wait", as_=b, max_wait_seconds=1)
    assert r.status_code == 404
    # Mail to an address works across organizations, as email does; the alias stays theirs.
    r = await send(api, other_tenant, mine, b, subject="Hello from next door")
    assert r.status_code == 200 and r.json()["delivered"] == 1
    box = (await inbox(api, tenant.headers, b)).json()
    assert {m["subject"] for m in box["messages"]} == {"Status report", "Hello from next door"}
    r = await call(api, tenant.headers, "read", as_=b, message_id=msg_id)
    assert r.status_code == 200


async def test_invalid_input_is_400_naming_the_field(
    api: AsyncClient, tenant: Tenant, worker: Any
) -> None:
    a, b = alias("strict"), alias("target")
    r = await send(api, tenant, a, b, subject="Hi\r\nBcc: victim@example.com")
    assert r.status_code == 400 and field_of(r) == "subject"
    r = await send(api, tenant, a, b, subject="Hi\nthere")
    assert r.status_code == 400 and field_of(r) == "subject"
    r = await send(api, tenant, a, b, subject="x" * 1001)
    assert r.status_code == 400 and field_of(r) == "subject"
    r = await send(api, tenant, a, b, body="nul\x00here")
    assert r.status_code == 400 and field_of(r) == "body"
    lone = json.dumps({"as": a, "to": b, "subject": "lone \ud800 surrogate", "body": "b"})
    r = await api.post("/api/send", content=lone,
                       headers={**tenant.headers, "content-type": "application/json"})  # fmt: skip
    assert r.status_code == 400  # the JSON decoder refuses a lone surrogate before we see it
    r = await call(api, tenant.headers, "wait", as_=a, **{"from": "x\x00"}, max_wait_seconds=1)
    assert r.status_code == 400 and field_of(r) == "from"
    r = await send(api, tenant, "not an alias!", b)
    assert r.status_code == 400 and field_of(r) == "as"
    r = await send(api, tenant, a, [b, "someone@example.com"])
    assert r.status_code == 400 and field_of(r) == "to"
    r = await call(api, tenant.headers, "send", as_=a, to=b, subject="s")
    assert r.status_code == 400 and field_of(r) == "body"
    r = await api.get("/api/inbox", headers=tenant.headers)
    assert r.status_code == 400 and field_of(r) == "as"
    r = await call(api, tenant.headers, "read", as_=a, message_id="msg_nope\x00")
    assert r.status_code == 400 and field_of(r) == "message_id"
    # Nothing was sent by any of these.
    assert (await inbox(api, tenant.headers, b)).json()["messages"] == []


async def test_scopes_guard_every_operation(api: AsyncClient, tenant: Tenant, worker: Any) -> None:
    a, b = alias("scoped"), alias("peer")
    r = await api.post("/v1/api-keys", json={"name": "reader", "scopes": ["mail.read"]},
                       headers=tenant.headers)  # fmt: skip
    reader = {"Authorization": f"Bearer {r.json()['api_key']}"}
    msg_id = (await send(api, tenant, a, b)).json()["ids"][0]
    r = await call(api, reader, "send", as_=a, to=b, subject="s", body="b")
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    r = await call(api, reader, "reply", as_=b, message_id=msg_id, body="b")
    assert r.status_code == 403
    r = await call(api, reader, "delete", as_=b, message_id=msg_id)
    assert r.status_code == 403  # deleting needs mail.manage, as on /v1
    assert (await inbox(api, reader, b)).status_code == 200
    r = await call(api, reader, "read", as_=b, message_id=msg_id)
    assert r.status_code == 200
    assert (await api.get("/api/inbox", params={"as": b})).status_code == 401
