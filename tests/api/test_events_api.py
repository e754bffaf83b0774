"""The event log API: list with filters and cursor catch-up, the catalogue, the live SSE stream
with Last-Event-ID resume, and tenant isolation. Mail arrives over real SMTP and is processed
by the real worker, which writes the events.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from httpx import AsyncClient

from tests.conftest import Tenant, create_inbox
from tests.helpers.eventually import eventually
from tests.helpers.smtp import send_raw, simple_message


async def deliver(ingress: Any, to: str, subject: str) -> None:
    await send_raw(ingress.port, "bob@example.com", [to], simple_message(to, subject=subject))


async def events(api: AsyncClient, t: Tenant | dict[str, str], **params: Any) -> dict[str, Any]:
    headers = t.headers if isinstance(t, Tenant) else t
    r = await api.get("/v1/events", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def received(api: AsyncClient, t: Tenant, inbox_id: str, n: int) -> list[dict[str, Any]]:
    """The inbox's message.received events, once there are `n` of them."""

    async def probe() -> list[dict[str, Any]]:
        data = (await events(api, t, type="message.received", inbox_id=inbox_id))["data"]
        assert len(data) == n, data
        return data  # type: ignore[no-any-return]

    return await eventually(probe, timeout=60)


class Frames:
    """Server-Sent Events read off a streaming response, one frame (a dict of fields) at a time."""

    def __init__(self, chunks: AsyncIterator[str]) -> None:
        self.chunks = chunks
        self.buf = ""

    async def next(self, seconds: float = 60) -> dict[str, str]:
        async with asyncio.timeout(seconds):
            while "\n\n" not in self.buf:
                self.buf += (await anext(self.chunks)).replace("\r\n", "\n")
        block, self.buf = self.buf.split("\n\n", 1)
        frame: dict[str, str] = {}
        for line in block.split("\n"):
            name, _, value = line.partition(":")
            frame[name or "comment"] = value.removeprefix(" ")
        return frame

    async def next_event(self, seconds: float = 60) -> dict[str, str]:
        """The next frame carrying an event (keep-alive comments skipped)."""
        while True:
            frame = await self.next(seconds)
            if "id" in frame:
                return frame


def subject_of(frame: dict[str, str]) -> str:
    return str(json.loads(frame["data"])["data"]["message"]["subject"])


@asynccontextmanager
async def stream(api: AsyncClient, headers: dict[str, str], **params: Any) -> AsyncIterator[Frames]:
    async with api.stream("GET", "/v1/events/stream", params=params, headers=headers) as r:
        assert r.status_code == 200, await r.aread()
        assert r.headers["content-type"].startswith("text/event-stream")
        frames = Frames(r.aiter_text())
        assert (await frames.next())["comment"] == "stream open"
        yield frames


async def test_events_list_filters_by_type_and_inbox_and_pages_oldest_first(
    api: AsyncClient, tenant: Tenant, ingress: Any, worker: Any
) -> None:
    a = await create_inbox(api, tenant)
    b = await create_inbox(api, tenant)
    await deliver(ingress, a["address"], "first")
    await deliver(ingress, a["address"], "second")
    await deliver(ingress, b["address"], "elsewhere")
    got = await received(api, tenant, a["id"], 2)
    # Oldest first (the two pipelines run concurrently: either may finish first).
    assert {e["data"]["message"]["subject"] for e in got} == {"first", "second"}
    assert got[0]["id"] < got[1]["id"]
    first = got[0]
    assert first["type"] == "message.received" and first["inbox_id"] == a["id"]
    assert (
        first["org_id"] == tenant.org_id and first["id"].startswith("evt_") and first["timestamp"]
    )
    threads = (await events(api, tenant, type="thread.created", inbox_id=a["id"]))["data"]
    assert len(threads) == 2 and all(e["data"]["thread"]["inbox_id"] == a["id"] for e in threads)
    await received(api, tenant, b["id"], 1)

    # Page one event at a time through both types of inbox a: ascending ids, nothing twice.
    seen: list[dict[str, Any]] = []
    params: dict[str, Any] = {
        "type": ["message.received", "thread.created"],
        "inbox_id": a["id"],
        "limit": 1,
    }
    while True:
        page = await events(api, tenant, **params)
        seen += page["data"]
        if not page["has_more"]:
            break
        params["cursor"] = page["next_cursor"]
    assert len(seen) == 4 and [e["id"] for e in seen] == sorted(e["id"] for e in seen)
    assert {e["type"] for e in seen} == {"message.received", "thread.created"}

    # A consumer that processed the first event catches up with `after`.
    rest = (await events(api, tenant, inbox_id=a["id"], after=first["id"]))["data"]
    assert first["id"] not in [e["id"] for e in rest]
    assert got[1]["id"] in [e["id"] for e in rest]
    assert all(e["id"] > first["id"] for e in rest)
    # ...and reads one event by id.
    r = await api.get(f"/v1/events/{first['id']}", headers=tenant.headers)
    assert r.status_code == 200 and r.json() == first


async def test_events_bad_filters_are_4xx_naming_the_field(
    api: AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = await create_inbox(api, other_tenant)
    cases = [({"type": "message.exploded"}, 400, "type"),
             ({"inbox_id": theirs["id"]}, 404, "inbox_id"), ({"after": "not-an-id"}, 400, "after"),
             ({"cursor": "%%%"}, 400, "cursor"), ({"limit": 0}, 400, "limit")]  # fmt: skip
    for params, status, field in cases:
        r = await api.get("/v1/events", params=params, headers=tenant.headers)
        assert r.status_code == status, (params, r.text)
        assert r.json()["details"][0]["field"] == field, r.text
    r = await api.get("/v1/events/stream", params={"type": "nope"}, headers=tenant.headers)
    assert r.status_code == 400 and r.json()["details"][0]["field"] == "type"
    r = await api.get("/v1/events/stream", headers={**tenant.headers, "Last-Event-ID": "x"})
    assert r.status_code == 400 and r.json()["details"][0]["field"] == "Last-Event-ID"


async def test_events_of_another_tenant_are_invisible(
    api: AsyncClient, tenant: Tenant, other_tenant: Tenant, ingress: Any, worker: Any
) -> None:
    inbox = await create_inbox(api, tenant)
    await deliver(ingress, inbox["address"], "private")
    event = (await received(api, tenant, inbox["id"], 1))[0]
    assert (
        await api.get(f"/v1/events/{event['id']}", headers=other_tenant.headers)
    ).status_code == 404
    theirs = (await events(api, other_tenant, limit=100))["data"]
    assert all(e["org_id"] == other_tenant.org_id for e in theirs)
    assert event["id"] not in [e["id"] for e in theirs]


async def test_key_limited_to_an_inbox_lists_only_its_events(
    api: AsyncClient, tenant: Tenant, ingress: Any, worker: Any
) -> None:
    a = await create_inbox(api, tenant)
    b = await create_inbox(api, tenant)
    await deliver(ingress, a["address"], "for a")
    await deliver(ingress, b["address"], "for b")
    await received(api, tenant, a["id"], 1)
    await received(api, tenant, b["id"], 1)
    r = await api.post("/v1/api-keys", json={"scopes": ["mail.read"], "inbox_ids": [a["id"]]},
                       headers=tenant.headers)  # fmt: skip
    limited = {"Authorization": f"Bearer {r.json()['api_key']}"}
    data = (await events(api, limited, limit=100))["data"]
    assert data and {e["inbox_id"] for e in data} == {a["id"]}
    r = await api.get("/v1/events", params={"inbox_id": b["id"]}, headers=limited)
    assert r.status_code == 404


async def test_event_types_catalogue_has_a_schema_per_type(
    api: AsyncClient, tenant: Tenant
) -> None:
    from contracts.events import EVENT_TYPES

    r = await api.get("/v1/events/types", headers=tenant.headers)
    assert r.status_code == 200, r.text
    by_type = {t["type"]: t for t in r.json()}
    assert set(by_type) == EVENT_TYPES
    assert "message" in by_type["message.received"]["schema"]["properties"]
    assert by_type["message.bounced"]["description"]


async def test_events_need_mail_read(api: AsyncClient, tenant: Tenant) -> None:
    r = await api.post("/v1/api-keys", json={"scopes": ["webhooks.manage"]}, headers=tenant.headers)
    hooks_only = {"Authorization": f"Bearer {r.json()['api_key']}"}
    assert (await api.get("/v1/events", headers=hooks_only)).status_code == 403
    assert (await api.get("/v1/events/stream", headers=hooks_only)).status_code == 403
    # The catalogue is what an endpoint is configured with: webhooks.manage reads it too.
    assert (await api.get("/v1/events/types", headers=hooks_only)).status_code == 200


async def test_stream_sends_new_events_and_resumes_after_last_event_id(
    api: AsyncClient, tenant: Tenant, ingress: Any, worker: Any
) -> None:
    inbox = await create_inbox(api, tenant)
    async with stream(api, tenant.headers, type="message.received") as frames:
        await deliver(ingress, inbox["address"], "live one")
        frame = await frames.next_event()
    assert frame["event"] == "message.received"
    envelope = json.loads(frame["data"])
    assert envelope["id"] == frame["id"] and envelope["data"]["message"]["subject"] == "live one"

    # Mail arriving while disconnected is streamed on reconnect; nothing before the last id is.
    await deliver(ingress, inbox["address"], "while away")
    await received(api, tenant, inbox["id"], 2)
    headers = {**tenant.headers, "Last-Event-ID": frame["id"]}
    got: list[dict[str, str]] = []

    async def until(frames: Frames, subject: str) -> None:
        while True:
            got.append(f := await frames.next_event())
            if f["event"] == "message.received" and subject_of(f) == subject:
                return

    async with stream(api, headers, inbox_id=inbox["id"]) as frames:
        await until(frames, "while away")
        await deliver(ingress, inbox["address"], "after reconnect")
        await until(frames, "after reconnect")
    assert all(f["id"] > frame["id"] for f in got)
    assert len({f["id"] for f in got}) == len(got)
    subjects = [subject_of(f) for f in got if f["event"] == "message.received"]
    assert subjects == ["while away", "after reconnect"]


async def test_stream_never_carries_another_tenants_events(
    api: AsyncClient, tenant: Tenant, other_tenant: Tenant, ingress: Any, worker: Any
) -> None:
    mine = await create_inbox(api, tenant)
    theirs = await create_inbox(api, other_tenant)
    async with stream(api, other_tenant.headers) as frames:
        await deliver(ingress, mine["address"], "not for them")
        await received(api, tenant, mine["id"], 1)
        await deliver(ingress, theirs["address"], "for them")
        first = await frames.next_event()
    envelope = json.loads(first["data"])
    assert envelope["org_id"] == other_tenant.org_id and envelope["inbox_id"] == theirs["id"]


async def test_stream_sends_keep_alives_and_ends_when_the_key_is_revoked(
    api: AsyncClient, tenant: Tenant, monkeypatch: Any
) -> None:
    from api import event_stream

    monkeypatch.setattr(event_stream, "KEEPALIVE_SECONDS", 0.3)
    monkeypatch.setattr(event_stream, "KEY_CHECK_SECONDS", 0.3)
    r = await api.post("/v1/api-keys", json={"scopes": ["mail.read"]}, headers=tenant.headers)
    key = r.json()
    async with stream(api, {"Authorization": f"Bearer {key['api_key']}"}) as frames:
        assert (await frames.next(seconds=10))["comment"] == "keep-alive"
        r = await api.delete(f"/v1/api-keys/{key['id']}", headers=tenant.headers)
        assert r.status_code in (200, 204), r.text
        async with asyncio.timeout(10):  # the server ends the stream
            async for _ in frames.chunks:
                pass


async def test_stream_delivers_an_event_committed_after_a_later_one(
    api: AsyncClient, tenant: Tenant, sessionmaker: Any
) -> None:
    """Ids are made before commit: a slow transaction can land an id below one already sent."""
    import uuid

    from store import events as event_log
    from store.models import Event

    inbox = await create_inbox(api, tenant)
    async with stream(api, tenant.headers, inbox_id=inbox["id"]) as frames:
        async with sessionmaker.begin() as s:
            first = await event_log.emit(s, org_id=tenant.org_id, inbox_id=inbox["id"],
                                         type="thread.updated", resource_id=uuid.uuid4().hex,
                                         payload={})  # fmt: skip
        assert (await frames.next_event())["id"] == first.id
        # The same millisecond as the event streamed, a lower random part: an earlier id.
        late_id = first.id[:14] + "0" * 15 + "1"
        assert late_id < first.id
        async with sessionmaker.begin() as s:
            s.add(Event(id=late_id, org_id=tenant.org_id, inbox_id=inbox["id"], payload={},
                        type="thread.updated", resource_id=uuid.uuid4().hex))  # fmt: skip
        assert (await frames.next_event())["id"] == late_id
