"""The deliverability API through the real app: delivery events (filters, pagination), metrics
from known events, the suppression list and allow/block lists (validation, scopes, tenant
isolation), and the receive-side block at SMTP RCPT."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aiosmtplib
import httpx
import pytest
from sqlalchemy import update

from store import delivery_events
from store.base import new_id, utcnow
from store.models import DeliveryEvent, Message
from store.scope import TenantScope
from tests.conftest import Tenant, create_inbox
from tests.helpers.smtp import send_raw, simple_message


def _field(r: httpx.Response) -> str | None:
    return r.json()["details"][0]["field"] if r.json()["details"] else None


async def _outbound(sessionmaker: Any, t: Tenant, inbox: dict[str, Any], rcpt: str) -> str:
    async with sessionmaker.begin() as s:
        msg = Message(id=new_id("msg"), org_id=t.org_id, inbox_id=inbox["id"], direction="outbound",
                      status="sent", pipeline_state="outbound", from_address=inbox["address"],
                      to=[{"name": "", "email": rcpt}], envelope_to=[rcpt])  # fmt: skip
        s.add(msg)
    return msg.id


async def _record(sessionmaker: Any, t: Tenant, inbox: dict[str, Any], msg: str, *types: str,
                  recipient: str = "a@example.com", age_days: float = 0) -> None:  # fmt: skip
    async with sessionmaker.begin() as s:
        for type_ in types:
            await delivery_events.record(s, TenantScope(org_id=t.org_id), message_id=msg,
                                         inbox_id=inbox["id"], type=type_, recipient=recipient)  # fmt: skip
        if age_days:
            await s.execute(update(DeliveryEvent).where(DeliveryEvent.message_id == msg)
                            .values(created_at=utcnow() - timedelta(days=age_days)))  # fmt: skip


async def _key(api: httpx.AsyncClient, t: Tenant, *scopes: str) -> dict[str, str]:
    r = await api.post("/v1/api-keys", json={"name": "k", "scopes": list(scopes)}, headers=t.headers)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['api_key']}"}


# --- delivery events -----------------------------------------------------------------------


async def test_delivery_events_filter_by_message_type_and_inbox_with_cursor_pagination(
    api: httpx.AsyncClient, tenant: Tenant, sessionmaker: Any
) -> None:
    inbox, other = await create_inbox(api, tenant), await create_inbox(api, tenant)
    m1 = await _outbound(sessionmaker, tenant, inbox, "a@example.com")
    m2 = await _outbound(sessionmaker, tenant, other, "b@example.com")
    await _record(sessionmaker, tenant, inbox, m1, "queued", "sent", "delivered", "bounced")
    await _record(sessionmaker, tenant, other, m2, "queued", "sent")
    r = await api.get("/v1/delivery/events", params={"message_id": m1}, headers=tenant.headers)
    assert r.status_code == 200, r.text
    assert [e["type"] for e in r.json()["data"]] == ["bounced", "delivered", "sent", "queued"]
    r = await api.get("/v1/delivery/events", params={"type": "sent"}, headers=tenant.headers)
    assert {e["message_id"] for e in r.json()["data"]} == {m1, m2}
    r = await api.get("/v1/delivery/events", params={"inbox_id": other["id"]}, headers=tenant.headers)
    assert {e["message_id"] for e in r.json()["data"]} == {m2}
    seen, cursor = [], None
    while True:
        params = {"message_id": m1, "limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/v1/delivery/events", params=params, headers=tenant.headers)).json()
        seen += [e["id"] for e in page["data"]]
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) == 4


async def test_delivery_events_of_another_tenant_are_invisible(
    api: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant, sessionmaker: Any
) -> None:
    inbox = await create_inbox(api, tenant)
    msg = await _outbound(sessionmaker, tenant, inbox, "a@example.com")
    await _record(sessionmaker, tenant, inbox, msg, "sent")
    r = await api.get("/v1/delivery/events", params={"message_id": msg}, headers=other_tenant.headers)
    assert r.status_code == 200 and r.json()["data"] == []
    r = await api.get("/v1/delivery/events", params={"inbox_id": inbox["id"]},
                      headers=other_tenant.headers)  # fmt: skip
    assert r.status_code == 404
    r = await api.get("/v1/delivery/metrics", params={"inbox_id": inbox["id"]},
                      headers=other_tenant.headers)  # fmt: skip
    assert r.status_code == 404


async def test_delivery_events_reject_bad_filters_naming_the_field(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    r = await api.get("/v1/delivery/events", params={"type": "exploded"}, headers=tenant.headers)
    assert (r.status_code, _field(r)) == (400, "type")
    r = await api.get("/v1/delivery/events", params={"limit": 0}, headers=tenant.headers)
    assert r.status_code == 400 and _field(r) == "limit"
    r = await api.get("/v1/delivery/events", params={"cursor": "%%%"}, headers=tenant.headers)
    assert (r.status_code, _field(r)) == (400, "cursor")


async def test_delivery_reads_need_analytics_read(api: httpx.AsyncClient, tenant: Tenant) -> None:
    sender = await _key(api, tenant, "mail.send")
    analyst = await _key(api, tenant, "analytics.read")
    assert (await api.get("/v1/delivery/events", headers=sender)).status_code == 403
    assert (await api.get("/v1/delivery/metrics", headers=sender)).status_code == 403
    assert (await api.get("/v1/delivery/metrics", headers=analyst)).status_code == 200
    r = await api.post("/v1/delivery/suppressions", json={"address": "x@example.com"}, headers=analyst)
    assert r.status_code == 403


# --- metrics ----------------------------------------------------------------------------------


async def test_delivery_metrics_counts_and_rates_from_known_events(
    api: httpx.AsyncClient, tenant: Tenant, sessionmaker: Any
) -> None:
    inbox = await create_inbox(api, tenant)
    msgs = [await _outbound(sessionmaker, tenant, inbox, f"r{i}@example.com") for i in range(5)]
    for m in msgs[:4]:
        await _record(sessionmaker, tenant, inbox, m, "queued", "sent")
    for m in msgs[:3]:
        await _record(sessionmaker, tenant, inbox, m, "delivered")
    await _record(sessionmaker, tenant, inbox, msgs[3], "deferred", "deferred", "bounced")
    await _record(sessionmaker, tenant, inbox, msgs[0], "complained")
    # Three weeks old: inside 30 days, outside 7.
    await _record(sessionmaker, tenant, inbox, msgs[4], "sent", "bounced", age_days=21)

    r = await api.get("/v1/delivery/metrics", params={"period": "7d"}, headers=tenant.headers)
    assert r.status_code == 200, r.text
    week = r.json()
    assert week["period_days"] == 7
    assert {k: week["counts"][k] for k in ("queued", "sent", "delivered", "deferred", "bounced",
                                           "complained", "failed")} == {
        "queued": 4, "sent": 4, "delivered": 3, "deferred": 2, "bounced": 1, "complained": 1,
        "failed": 0}  # fmt: skip
    assert (week["delivery_rate"], week["bounce_rate"], week["complaint_rate"]) == (0.75, 0.25, 0.25)

    month = (await api.get("/v1/delivery/metrics", params={"period": "30d"}, headers=tenant.headers)).json()
    assert (month["counts"]["sent"], month["counts"]["bounced"]) == (5, 2)
    assert (month["delivery_rate"], month["bounce_rate"]) == (0.6, 0.4)
    days = (await api.get("/v1/delivery/metrics", params={"days": 22, "inbox_id": inbox["id"]},
                          headers=tenant.headers)).json()  # fmt: skip
    assert days["period_days"] == 22 and days["counts"]["sent"] == 5


async def test_delivery_metrics_with_no_sends_has_no_rates(api: httpx.AsyncClient, tenant: Tenant) -> None:
    body = (await api.get("/v1/delivery/metrics", headers=tenant.headers)).json()
    assert body["period_days"] == 30 and body["counts"]["sent"] == 0
    assert body["delivery_rate"] is None and body["bounce_rate"] is None


@pytest.mark.parametrize("params,field", [({"period": "9d"}, "period"), ({"days": 0}, "days"),
                                          ({"days": 400}, "days"),
                                          ({"period": "7d", "days": 3}, "period")])  # fmt: skip
async def test_delivery_metrics_reject_bad_periods(
    api: httpx.AsyncClient, tenant: Tenant, params: dict[str, Any], field: str
) -> None:
    r = await api.get("/v1/delivery/metrics", params=params, headers=tenant.headers)
    assert (r.status_code, _field(r)) == (400, field)


# --- suppressions -----------------------------------------------------------------------------


async def test_suppressions_add_lookup_remove_and_policy_follows(
    api: httpx.AsyncClient, tenant: Tenant, sessionmaker: Any
) -> None:
    from outbound.policy import check_send_policy

    inbox = await create_inbox(api, tenant)
    r = await api.post("/v1/delivery/suppressions", json={"address": "Jane@Example.com"},
                       headers=tenant.headers)  # fmt: skip
    assert r.status_code == 201, r.text
    created = r.json()
    assert (created["address"], created["reason"], created["source"]) == ("jane@example.com", "manual", "api")
    again = await api.post("/v1/delivery/suppressions", json={"address": "jane@example.com"},
                           headers=tenant.headers)  # fmt: skip
    assert again.json()["id"] == created["id"]
    found = await api.get("/v1/delivery/suppressions", params={"address": "JANE@example.com"},
                          headers=tenant.headers)  # fmt: skip
    assert [s["id"] for s in found.json()["data"]] == [created["id"]]
    scope = TenantScope(org_id=tenant.org_id)
    async with sessionmaker() as s:
        refused = await check_send_policy(s, scope, inbox["id"], ["jane@example.com"])
    assert [x.reason for x in refused] == ["suppressed"]
    r = await api.delete(f"/v1/delivery/suppressions/{created['id']}", headers=tenant.headers)
    assert r.status_code == 204
    assert (await api.get(f"/v1/delivery/suppressions/{created['id']}", headers=tenant.headers)).status_code == 404
    async with sessionmaker() as s:
        assert await check_send_policy(s, scope, inbox["id"], ["jane@example.com"]) == []


@pytest.mark.parametrize("body,field", [({"address": "not an address"}, "address"),
                                        ({"address": "a@b.com\r\nBcc: x@y.com"}, "address"),
                                        ({}, "address"),
                                        ({"address": "a@b.com", "reason": "because"}, "reason")])  # fmt: skip
async def test_suppressions_reject_bad_input_naming_the_field(
    api: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any], field: str
) -> None:
    r = await api.post("/v1/delivery/suppressions", json=body, headers=tenant.headers)
    assert r.status_code == 400, r.text
    assert field in (_field(r) or "")


async def test_suppressions_of_another_tenant_are_not_found(
    api: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    r = await api.post("/v1/delivery/suppressions", json={"address": "x@example.com"}, headers=tenant.headers)
    sup = r.json()["id"]
    assert (await api.get(f"/v1/delivery/suppressions/{sup}", headers=other_tenant.headers)).status_code == 404
    assert (await api.delete(f"/v1/delivery/suppressions/{sup}", headers=other_tenant.headers)).status_code == 404
    listed = await api.get("/v1/delivery/suppressions", headers=other_tenant.headers)
    assert sup not in [s["id"] for s in listed.json()["data"]]


# --- allow/block lists --------------------------------------------------------------------------


async def test_access_lists_create_list_read_delete(api: httpx.AsyncClient, tenant: Tenant) -> None:
    inbox = await create_inbox(api, tenant)
    r = await api.post("/v1/access-lists", json={"direction": "send", "kind": "block",
                                                 "value": "Competitor.COM"}, headers=tenant.headers)  # fmt: skip
    assert r.status_code == 201, r.text
    org_entry = r.json()
    assert (org_entry["scope"], org_entry["value"], org_entry["value_type"]) == ("org", "competitor.com", "domain")
    r = await api.post("/v1/access-lists", json={"scope": "inbox", "inbox_id": inbox["id"],
                       "direction": "receive", "kind": "allow", "value": "boss@corp.test"},
                       headers=tenant.headers)  # fmt: skip
    assert r.status_code == 201 and r.json()["value_type"] == "address"
    inbox_entry = r.json()
    listed = await api.get("/v1/access-lists", params={"scope": "inbox"}, headers=tenant.headers)
    assert [e["id"] for e in listed.json()["data"]] == [inbox_entry["id"]]
    listed = await api.get("/v1/access-lists", params={"direction": "send", "kind": "block"},
                           headers=tenant.headers)  # fmt: skip
    assert [e["id"] for e in listed.json()["data"]] == [org_entry["id"]]
    dup = await api.post("/v1/access-lists", json={"direction": "send", "kind": "block",
                                                   "value": "competitor.com"}, headers=tenant.headers)  # fmt: skip
    assert dup.status_code == 409
    assert (await api.get(f"/v1/access-lists/{inbox_entry['id']}", headers=tenant.headers)).status_code == 200
    assert (await api.delete(f"/v1/access-lists/{inbox_entry['id']}", headers=tenant.headers)).status_code == 204
    assert (await api.get(f"/v1/access-lists/{inbox_entry['id']}", headers=tenant.headers)).status_code == 404


@pytest.mark.parametrize("body,field", [
    ({"direction": "send", "kind": "block", "value": "not a domain"}, "value"),
    ({"direction": "send", "kind": "block", "value": "a b@c.com"}, "value"),
    ({"direction": "sideways", "kind": "block", "value": "x.com"}, "direction"),
    ({"direction": "send", "kind": "maybe", "value": "x.com"}, "kind"),
    ({"direction": "send", "kind": "block"}, "value"),
    ({"scope": "inbox", "direction": "send", "kind": "block", "value": "x.com"}, None),
])  # fmt: skip
async def test_access_lists_reject_bad_input(
    api: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any], field: str | None
) -> None:
    r = await api.post("/v1/access-lists", json=body, headers=tenant.headers)
    assert r.status_code == 400, r.text
    if field is not None:
        assert field in (_field(r) or "")


async def test_access_lists_are_tenant_isolated(
    api: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    inbox = await create_inbox(api, tenant)
    r = await api.post("/v1/access-lists", json={"scope": "inbox", "inbox_id": inbox["id"],
                       "direction": "send", "kind": "block", "value": "x.com"},
                       headers=other_tenant.headers)  # fmt: skip
    assert r.status_code == 404
    entry = (await api.post("/v1/access-lists", json={"direction": "send", "kind": "block",
                                                      "value": "x.com"}, headers=tenant.headers)).json()  # fmt: skip
    assert (await api.get(f"/v1/access-lists/{entry['id']}", headers=other_tenant.headers)).status_code == 404
    assert (await api.delete(f"/v1/access-lists/{entry['id']}", headers=other_tenant.headers)).status_code == 404
    listed = await api.get("/v1/access-lists", headers=other_tenant.headers)
    assert listed.status_code == 200, listed.text
    assert entry["id"] not in [e["id"] for e in listed.json()["data"]]


async def test_access_lists_org_entries_need_a_key_that_sees_every_inbox(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    inbox = await create_inbox(api, tenant)
    r = await api.post("/v1/api-keys", json={"name": "narrow", "scopes": ["delivery.manage"],
                                             "inbox_ids": [inbox["id"]]}, headers=tenant.headers)  # fmt: skip
    assert r.status_code == 201, r.text
    narrow = {"Authorization": f"Bearer {r.json()['api_key']}"}
    r = await api.post("/v1/access-lists", json={"direction": "send", "kind": "block", "value": "x.com"},
                       headers=narrow)  # fmt: skip
    assert (r.status_code, _field(r)) == (403, "scope")
    r = await api.post("/v1/access-lists", json={"scope": "inbox", "inbox_id": inbox["id"],
                       "direction": "send", "kind": "block", "value": "x.com"}, headers=narrow)  # fmt: skip
    assert r.status_code == 201


# --- receive side over SMTP --------------------------------------------------------------------


async def test_ingress_refuses_blocked_sender_at_rcpt_and_accepts_others(
    api: httpx.AsyncClient, tenant: Tenant, ingress: Any, worker: Any
) -> None:
    inbox = await create_inbox(api, tenant)
    guarded = await create_inbox(api, tenant)
    for body in ({"direction": "receive", "kind": "block", "value": "spammer.test"},
                 {"scope": "inbox", "inbox_id": guarded["id"], "direction": "receive",
                  "kind": "allow", "value": "boss@corp.test"}):  # fmt: skip
        assert (await api.post("/v1/access-lists", json=body, headers=tenant.headers)).status_code == 201
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await send_raw(ingress.port, "eve@mail.spammer.test", [inbox["address"]], simple_message(inbox["address"]))
    assert refused.value.recipients[0].code == 550
    assert "5.7.1" in refused.value.recipients[0].message
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
        await send_raw(ingress.port, "stranger@else.test", [guarded["address"]], simple_message(guarded["address"]))
    _, reply = await send_raw(ingress.port, "friend@fine.test", [inbox["address"]], simple_message(inbox["address"]))
    assert reply.startswith("2.0.0") or "queued" in reply
    _, reply = await send_raw(ingress.port, "boss@corp.test", [guarded["address"]], simple_message(guarded["address"]))
    assert "queued" in reply
    # One refused recipient does not refuse the others of the same transaction.
    rejected, reply = await send_raw(ingress.port, "stranger@else.test", [inbox["address"], guarded["address"]],
                                     simple_message(inbox["address"]))  # fmt: skip
    assert list(rejected) == [guarded["address"]] and "queued" in reply
