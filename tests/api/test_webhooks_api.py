"""The webhook endpoint API: CRUD with validation naming fields, the secret shown once and
rotated with an overlap, tenant isolation on every route, the per-inbox shortcut, and (with
the real worker and a loopback receiver) test events, deliveries, retry, replay and health.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

from httpx import AsyncClient

from tests.conftest import Tenant, create_inbox
from tests.helpers.eventually import eventually
from tests.helpers.receiver import Received, Receiver, Reply
from tests.helpers.smtp import send_raw, simple_message

HOOK = "https://hooks.example.com/postflow"


async def create_webhook(
    api: AsyncClient, t: Tenant | dict[str, str], **body: Any
) -> dict[str, Any]:
    headers = t.headers if isinstance(t, Tenant) else t
    r = await api.post("/v1/webhooks", json={"url": HOOK, **body}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def verifies(secret: str, req: Received) -> bool:
    """Standard Webhooks: some `v1,` signature is the HMAC of `{id}.{timestamp}.{body}`."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    content = f"{req.headers['webhook-id']}.{req.headers['webhook-timestamp']}.".encode() + req.body
    expected = "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    return expected in req.headers["webhook-signature"].split(" ")


def field_of(r: Any) -> str:
    return str(r.json()["details"][0]["field"])


async def test_create_shows_the_secret_once_and_stores_it_sealed(
    api: AsyncClient, tenant: Tenant, sessionmaker: Any
) -> None:
    from store.models import WebhookEndpoint

    hook = await create_webhook(api, tenant, description="crm", event_types=["message.received"])
    assert hook["id"].startswith("wh_") and hook["secret"].startswith("whsec_")
    assert len(base64.b64decode(hook["secret"].removeprefix("whsec_"))) >= 24
    assert hook["event_types"] == ["message.received"] and hook["inbox_ids"] is None
    assert hook["enabled"] is True and hook["description"] == "crm"
    read = (await api.get(f"/v1/webhooks/{hook['id']}", headers=tenant.headers)).json()
    assert "secret" not in read and read["url"] == HOOK
    listed = (await api.get("/v1/webhooks", headers=tenant.headers)).json()["data"]
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]
    async with sessionmaker() as s:
        row = await s.get(WebhookEndpoint, hook["id"])
    assert row is not None and hook["secret"] not in row.secret_sealed


async def test_bad_input_is_4xx_naming_the_field(
    api: AsyncClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = await create_inbox(api, other_tenant)
    cases = [
        ({"url": "not a url"}, 400, "url"),
        ({"url": "ftp://hooks.example.com/x"}, 400, "url"),
        ({"url": "https://user:pw@hooks.example.com/x"}, 400, "url"),
        ({"url": "https://10.0.0.5/hook"}, 422, "url"),
        ({"url": "https://169.254.169.254/latest"}, 422, "url"),
        ({"url": "https://[::1]:8080/x"}, 422, "url"),
        ({"url": HOOK, "event_types": ["message.exploded"]}, 400, "event_types"),
        ({"url": HOOK, "colour": "red"}, 400, "colour"),
        ({"url": HOOK, "inbox_ids": [theirs["id"]]}, 404, "inbox_ids"),
        ({"url": HOOK, "inbox_ids": []}, 400, "inbox_ids"),
        ({"description": "no url"}, 400, "url"),
    ]
    for body, status, field in cases:
        r = await api.post("/v1/webhooks", json=body, headers=tenant.headers)
        assert r.status_code == status and field_of(r) == field, (body, r.text)
        assert set(r.json()) == {"status", "code", "message", "details"}
    hook = await create_webhook(api, tenant)
    for body, status, field in [({"url": "https://192.168.1.10/"}, 422, "url"),
                                ({"enabled": None}, 400, "enabled"),
                                ({"event_types": ["nope"]}, 400, "event_types")]:  # fmt: skip
        r = await api.patch(f"/v1/webhooks/{hook['id']}", json=body, headers=tenant.headers)
        assert r.status_code == status and field_of(r) == field, (body, r.text)
    assert (await api.get(f"/v1/webhooks/{hook['id']}", headers=tenant.headers)).json()[
        "url"
    ] == HOOK


async def test_update_changes_fields_and_reenabling_clears_the_reason(
    api: AsyncClient, tenant: Tenant
) -> None:
    inbox = await create_inbox(api, tenant)
    hook = await create_webhook(api, tenant)
    url = f"/v1/webhooks/{hook['id']}"
    change = {"description": "d", "event_types": ["thread.created"], "inbox_ids": [inbox["id"]],
              "enabled": False}  # fmt: skip
    r = await api.patch(url, json=change, headers=tenant.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["event_types"] == ["thread.created"] and body["inbox_ids"] == [inbox["id"]]
    assert body["enabled"] is False and body["disabled_reason"]
    body = (
        await api.patch(url, json={"enabled": True, "inbox_ids": None}, headers=tenant.headers)
    ).json()
    assert body["enabled"] is True and body["disabled_reason"] is None and body["inbox_ids"] is None
    assert (await api.delete(url, headers=tenant.headers)).status_code == 204
    assert (await api.get(url, headers=tenant.headers)).status_code == 404


async def test_rotate_secret_returns_a_new_secret_and_keeps_the_old_for_the_overlap(
    api: AsyncClient, tenant: Tenant, sessionmaker: Any, settings: Any
) -> None:
    from crypto.sealing import unseal
    from store.models import WebhookEndpoint

    hook = await create_webhook(api, tenant)
    r = await api.post(f"/v1/webhooks/{hook['id']}/rotate-secret", headers=tenant.headers)
    assert r.status_code == 200, r.text
    rotated = r.json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != hook["secret"]
    ends = datetime.fromisoformat(rotated["previous_secret_expires_at"])
    expected = datetime.now(UTC) + timedelta(hours=settings.webhook_secret_overlap_hours)
    assert abs((ends - expected).total_seconds()) < 60
    async with sessionmaker() as s:
        row = await s.get(WebhookEndpoint, hook["id"])
    assert row is not None and row.previous_secret_sealed is not None
    assert (
        unseal(settings.master_key_bytes(), row.previous_secret_sealed, "webhook-secret")
        == hook["secret"]
    )
    assert (
        "secret" not in (await api.get(f"/v1/webhooks/{hook['id']}", headers=tenant.headers)).json()
    )
    # No overlap: the old secret stops signing at once.
    r = await api.post(f"/v1/webhooks/{hook['id']}/rotate-secret", json={"overlap_hours": 0},
                       headers=tenant.headers)  # fmt: skip
    assert r.status_code == 200 and r.json()["previous_secret_expires_at"] is None
    r = await api.post(f"/v1/webhooks/{hook['id']}/rotate-secret", json={"overlap_hours": -1},
                       headers=tenant.headers)  # fmt: skip
    assert r.status_code == 400 and field_of(r) == "overlap_hours"


async def test_another_tenants_endpoint_and_delivery_are_404_on_every_route(
    api: AsyncClient, tenant: Tenant, other_tenant: Tenant, worker: Any
) -> None:
    async with Receiver() as receiver:
        hook = await create_webhook(api, tenant, url=receiver.url)
        test = (await api.post(f"/v1/webhooks/{hook['id']}/test", headers=tenant.headers)).json()
        await receiver.wait_for(1)
    h, wh, whd = (
        other_tenant.headers,
        f"/v1/webhooks/{hook['id']}",
        f"/v1/webhooks/deliveries/{test['delivery_id']}",
    )
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    calls = [api.get(wh, headers=h), api.patch(wh, json={"description": "x"}, headers=h),
             api.delete(wh, headers=h), api.post(f"{wh}/rotate-secret", headers=h),
             api.post(f"{wh}/test", headers=h), api.get(f"{wh}/deliveries", headers=h),
             api.post(f"{wh}/replay", json={"since": since}, headers=h),
             api.get(whd, headers=h), api.post(f"{whd}/retry", headers=h)]  # fmt: skip
    for call in calls:
        r = await call
        assert r.status_code == 404, r.text
        assert r.json()["code"] == "not_found"
    assert (await api.get("/v1/webhooks", headers=h)).json()["data"] == []
    health = (await api.get("/v1/webhooks/health", headers=h)).json()["data"]
    assert hook["id"] not in [e["endpoint_id"] for e in health]
    assert (await api.get(wh, headers=tenant.headers)).status_code == 200


async def test_key_limited_to_inboxes_manages_only_endpoints_of_those(
    api: AsyncClient, tenant: Tenant
) -> None:
    a, b = await create_inbox(api, tenant), await create_inbox(api, tenant)
    org_wide = await create_webhook(api, tenant)
    r = await api.post("/v1/api-keys", json={"scopes": ["webhooks.manage"], "inbox_ids": [a["id"]]},
                       headers=tenant.headers)  # fmt: skip
    limited = {"Authorization": f"Bearer {r.json()['api_key']}"}
    r = await api.post("/v1/webhooks", json={"url": HOOK}, headers=limited)
    assert r.status_code == 422 and field_of(r) == "inbox_ids"
    r = await api.post("/v1/webhooks", json={"url": HOOK, "inbox_ids": [b["id"]]}, headers=limited)
    assert r.status_code == 404 and field_of(r) == "inbox_ids"
    mine = await create_webhook(api, limited, inbox_ids=[a["id"]])
    assert [h["id"] for h in (await api.get("/v1/webhooks", headers=limited)).json()["data"]] == [
        mine["id"]
    ]
    assert (await api.get(f"/v1/webhooks/{org_wide['id']}", headers=limited)).status_code == 404
    r = await api.patch(f"/v1/webhooks/{mine['id']}", json={"inbox_ids": None}, headers=limited)
    assert r.status_code == 422 and field_of(r) == "inbox_ids"


async def test_inbox_webhook_shortcut_creates_updates_and_removes_a_filtered_endpoint(
    api: AsyncClient, tenant: Tenant
) -> None:
    inbox = await create_inbox(
        api, tenant, name="support", webhook={"url": HOOK, "event_types": ["message.received"]}
    )
    hook = inbox["webhook"]
    assert hook["inbox_ids"] == [inbox["id"]] and hook["event_types"] == ["message.received"]
    assert hook["secret"].startswith("whsec_")
    read = (await api.get(f"/v1/webhooks/{hook['id']}", headers=tenant.headers)).json()
    assert read["inbox_ids"] == [inbox["id"]] and "secret" not in read
    # Updating the inbox's webhook edits the same endpoint (no new secret).
    r = await api.patch(
        f"/v1/inboxes/{inbox['id']}",
        json={"webhook": {"url": HOOK + "/v2"}},
        headers=tenant.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["webhook"]["id"] == hook["id"] and "secret" not in r.json()["webhook"]
    assert r.json()["webhook"]["url"] == HOOK + "/v2" and r.json()["webhook"]["event_types"] == []
    r = await api.patch(
        f"/v1/inboxes/{inbox['id']}", json={"webhook": None}, headers=tenant.headers
    )
    assert r.status_code == 200 and r.json()["webhook"] is None
    assert (await api.get(f"/v1/webhooks/{hook['id']}", headers=tenant.headers)).status_code == 404
    # An inbox deleted takes its endpoint with it.
    other = await create_inbox(api, tenant, webhook={"url": HOOK})
    assert (
        await api.delete(f"/v1/inboxes/{other['id']}", headers=tenant.headers)
    ).status_code == 204
    assert (
        await api.get(f"/v1/webhooks/{other['webhook']['id']}", headers=tenant.headers)
    ).status_code == 404


async def test_inbox_webhook_shortcut_rejects_bad_urls_and_missing_scope(
    api: AsyncClient, tenant: Tenant
) -> None:
    before = len((await api.get("/v1/inboxes", headers=tenant.headers)).json()["data"])
    r = await api.post(
        "/v1/inboxes", json={"webhook": {"url": "https://10.0.0.5/x"}}, headers=tenant.headers
    )
    assert r.status_code == 422 and field_of(r) == "webhook.url"
    r = await api.post(
        "/v1/inboxes", json={"webhook": {"url": "ftp://x.example/"}}, headers=tenant.headers
    )
    assert r.status_code == 400 and "url" in field_of(r)
    r = await api.post("/v1/api-keys", json={"scopes": ["inboxes.manage"]}, headers=tenant.headers)
    inboxes_only = {"Authorization": f"Bearer {r.json()['api_key']}"}
    r = await api.post("/v1/inboxes", json={"webhook": {"url": HOOK}}, headers=inboxes_only)
    assert r.status_code == 403 and field_of(r) == "webhook"
    assert len((await api.get("/v1/inboxes", headers=tenant.headers)).json()["data"]) == before


async def test_test_event_reaches_only_that_endpoint_signed_and_is_observable(
    api: AsyncClient, tenant: Tenant, worker: Any
) -> None:
    async with Receiver() as receiver, Receiver() as bystander:
        hook = await create_webhook(api, tenant, url=receiver.url, event_types=["message.received"])
        await create_webhook(api, tenant, url=bystander.url)  # subscribed to every type
        r = await api.post(f"/v1/webhooks/{hook['id']}/test", headers=tenant.headers)
        assert r.status_code == 202, r.text
        test = r.json()
        assert test["workflow_id"] == f"WebhookDelivery/{test['delivery_id']}"
        [req] = await receiver.wait_for(1)
        assert req.webhook_id == test["event_id"] and verifies(hook["secret"], req)
        assert (
            req.json()["type"] == "webhook.test" and req.json()["data"]["endpoint_id"] == hook["id"]
        )

        async def succeeded() -> dict[str, Any]:
            d = (
                await api.get(
                    f"/v1/webhooks/deliveries/{test['delivery_id']}", headers=tenant.headers
                )
            ).json()
            assert d["status"] == "succeeded", d
            return d  # type: ignore[no-any-return]

        detail = await eventually(succeeded)
        assert bystander.requests == []
    assert detail["workflow_id"] == test["workflow_id"] and detail["event_type"] == "webhook.test"
    [attempt] = detail["attempts"]
    assert (
        attempt["status_code"] == 200 and attempt["success"] and attempt["latency_ms"] is not None
    )
    listed = (
        await api.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=tenant.headers)
    ).json()["data"]
    assert [d["id"] for d in listed] == [test["delivery_id"]]
    health = {
        e["endpoint_id"]: e
        for e in (await api.get("/v1/webhooks/health", headers=tenant.headers)).json()["data"]
    }
    mine = health[hook["id"]]
    assert mine["success_rate"] == 1.0 and mine["p50_ms"] is not None and mine["p95_ms"] is not None
    assert (
        mine["consecutive_failures"] == 0
        and mine["last_success_at"]
        and mine["last_failure_at"] is None
    )


async def test_after_rotation_deliveries_are_signed_with_both_secrets(
    api: AsyncClient, tenant: Tenant, worker: Any
) -> None:
    async with Receiver() as receiver:
        hook = await create_webhook(api, tenant, url=receiver.url)
        rotated = (
            await api.post(f"/v1/webhooks/{hook['id']}/rotate-secret", headers=tenant.headers)
        ).json()
        await api.post(f"/v1/webhooks/{hook['id']}/test", headers=tenant.headers)
        [req] = await receiver.wait_for(1)
    assert verifies(hook["secret"], req) and verifies(rotated["secret"], req)


async def test_failed_attempt_shows_next_retry_and_manual_retry_redelivers(
    api: AsyncClient, tenant: Tenant, worker: Any
) -> None:
    async with Receiver() as receiver:
        receiver.replies.append(Reply(status=500, body=b"boom"))
        hook = await create_webhook(api, tenant, url=receiver.url)
        test = (await api.post(f"/v1/webhooks/{hook['id']}/test", headers=tenant.headers)).json()
        path = f"/v1/webhooks/deliveries/{test['delivery_id']}"

        async def failed_once() -> dict[str, Any]:
            d = (await api.get(path, headers=tenant.headers)).json()
            assert d["attempts"] and d["status"] == "pending", d
            return d  # type: ignore[no-any-return]

        d = await eventually(failed_once)
        first = d["attempts"][0]
        assert (
            first["status_code"] == 500
            and not first["success"]
            and first["response_body"] == "boom"
        )
        assert d["next_attempt_at"] and d["last_status_code"] == 500
        await receiver.wait_for(2, timeout=30)  # the scheduled retry (5 s) succeeds

        async def succeeded() -> bool:
            return (await api.get(path, headers=tenant.headers)).json()["status"] == "succeeded"

        await eventually(succeeded)
        # A finished delivery can be sent again by hand.
        r = await api.post(f"{path}/retry", headers=tenant.headers)
        assert r.status_code == 202 and r.json()["workflow_id"] == test["workflow_id"]
        again = await receiver.wait_for(3)
    assert again[2].webhook_id == test["event_id"]
    assert (
        await api.post("/v1/webhooks/deliveries/whd_nope/retry", headers=tenant.headers)
    ).status_code == 404


async def test_mail_events_follow_filters_and_replay_redelivers_a_range(
    api: AsyncClient, tenant: Tenant, ingress: Any, worker: Any
) -> None:
    a, b = await create_inbox(api, tenant), await create_inbox(api, tenant)
    async with Receiver() as receiver:
        hook = await create_webhook(api, tenant, url=receiver.url, event_types=["message.received"],
                                    inbox_ids=[a["id"]])  # fmt: skip
        for inbox, subject in ((b, "not this"), (a, "this one")):
            await send_raw(ingress.port, "bob@example.com", [inbox["address"]],
                           simple_message(inbox["address"], subject=subject))  # fmt: skip
        [req] = await receiver.wait_for(1, timeout=60)
        assert (
            req.json()["type"] == "message.received"
            and req.json()["data"]["message"]["subject"] == "this one"
        )

        async def finished() -> bool:
            listed = await api.get(f"/v1/webhooks/{hook['id']}/deliveries", headers=tenant.headers)
            return [d["status"] for d in listed.json()["data"]] == ["succeeded"]

        # (A replay while the first delivery's workflow still runs joins that run.)
        await eventually(finished)
        since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        r = await api.post(
            f"/v1/webhooks/{hook['id']}/replay", json={"since": since}, headers=tenant.headers
        )
        assert r.status_code == 202, r.text
        assert r.json()["count"] == 1 and r.json()["workflow_ids"] == [
            f"WebhookDelivery/{r.json()['delivery_ids'][0]}"
        ]
        got = await receiver.wait_for(2)
    assert got[1].webhook_id == req.webhook_id

    def ago(**delta: float) -> str:
        return (datetime.now(UTC) - timedelta(**delta)).isoformat()

    bad = [({"since": ago(hours=-1)}, 422, "since"), ({"since": ago(days=31)}, 422, "since"),
           ({"since": since, "until": ago(hours=-2)}, 422, "until"),
           ({"since": "2025-01-01T00:00:00"}, 400, "since"), ({}, 400, "since")]  # fmt: skip
    for body, status, field in bad:
        r = await api.post(f"/v1/webhooks/{hook['id']}/replay", json=body, headers=tenant.headers)
        assert r.status_code == status and field_of(r) == field, (body, r.text)


async def test_disabled_endpoint_refuses_test_and_replay(api: AsyncClient, tenant: Tenant) -> None:
    hook = await create_webhook(api, tenant, enabled=False)
    assert hook["disabled_reason"]
    assert (
        await api.post(f"/v1/webhooks/{hook['id']}/test", headers=tenant.headers)
    ).status_code == 409
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    r = await api.post(
        f"/v1/webhooks/{hook['id']}/replay", json={"since": since}, headers=tenant.headers
    )
    assert r.status_code == 409


async def test_webhook_routes_need_the_webhooks_scope(api: AsyncClient, tenant: Tenant) -> None:
    r = await api.post("/v1/api-keys", json={"scopes": ["mail.read"]}, headers=tenant.headers)
    reader = {"Authorization": f"Bearer {r.json()['api_key']}"}
    for path in ("/v1/webhooks", "/v1/webhooks/health", "/v1/webhooks/deliveries/whd_x"):
        assert (await api.get(path, headers=reader)).status_code == 403
