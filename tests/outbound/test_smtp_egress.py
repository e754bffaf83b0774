"""SSRF rules for bring-your-own SMTP configs: loopback/private/link-local/metadata hosts are
refused (at create, at /test and at every send) unless POSTFLOW_SMTP_ALLOW_NETWORKS allows them.
The session settings allow 127.0.0.0/8 (the sinks); these tests run an api (+ worker) without."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from settings import Settings
from tests.conftest import Tenant, create_inbox, make_tenant
from tests.helpers.smtp_sink import SmtpSink
from tests.outbound.conftest import unique, wait_status


@pytest.fixture(scope="module")
def strict(settings: Settings) -> Settings:
    return settings.model_copy(update={
        "smtp_allow_networks": "", "task_queue": f"strict-smtp-{uuid.uuid4().hex[:8]}",
        "outbound_retry_schedule": "1s", "outbound_retry_hours": 0.001})  # fmt: skip


@pytest.fixture(scope="module")
async def strict_api(strict: Settings, superadmin_key: str) -> AsyncIterator[httpx.AsyncClient]:
    from api.app import create_app
    from tests.helpers.http_server import serve

    with serve(create_app(strict)) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
            yield client


PRIVATE = ["127.0.0.1", "localhost", "10.1.2.3", "192.168.0.10", "169.254.169.254", "[::1]",
           "::ffff:10.0.0.1", "100.64.1.1"]  # fmt: skip


@pytest.mark.parametrize("host", PRIVATE)
async def test_a_private_host_is_refused_at_create_naming_the_field(
    strict_api: httpx.AsyncClient, tenant: Tenant, host: str
) -> None:
    r = await strict_api.post("/v1/smtp-configs", headers=tenant.headers,
                              json={"host": host, "port": 25, "security": "none"})  # fmt: skip
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["details"][0]["field"] == "host"
    assert "POSTFLOW_SMTP_ALLOW_NETWORKS" in body["message"]


async def test_metadata_address_stays_refused_although_loopback_is_allowed(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    r = await api.post("/v1/smtp-configs", headers=tenant.headers,
                       json={"host": "169.254.169.254", "port": 25, "security": "none"})
    assert r.status_code == 422 and "metadata" in r.json()["details"][0]["message"]


async def test_a_host_name_resolving_to_a_private_address_is_refused_by_test(
    strict_api: httpx.AsyncClient, tenant: Tenant, session_dns: Any
) -> None:
    name = f"relay-{uuid.uuid4().hex[:8]}.test"
    session_dns.add(name, A=["10.20.30.40"])
    r = await strict_api.post("/v1/smtp-configs", headers=tenant.headers,
                              json={"host": name, "port": 25, "security": "none"})  # fmt: skip
    assert r.status_code == 201, r.text  # names are judged when connecting, by what they resolve to
    t = await strict_api.post(f"/v1/smtp-configs/{r.json()['id']}/test", headers=tenant.headers)
    assert t.status_code == 422, t.text
    detail = t.json()["details"][0]
    assert detail["field"] == "host"
    assert detail["message"] == f"{name} resolves to 10.20.30.40 is a private address"


async def test_sends_through_a_config_pointing_at_loopback_never_connect_when_not_allowed(
    api: httpx.AsyncClient, strict_api: httpx.AsyncClient, strict: Settings,
    temporal_env: WorkflowEnvironment, superadmin_key: str,
) -> None:  # fmt: skip
    from activities.deps import ActivityDeps
    from worker import build_worker

    t = await make_tenant(api, superadmin_key, name="Strict relay")
    with SmtpSink() as sink:
        # Saved while the operator allowed loopback (the session api), used after they stopped.
        r = await api.post("/v1/smtp-configs", headers=t.headers, json={
            "host": "127.0.0.1", "port": sink.port, "security": "none", "is_default": True})
        assert r.status_code == 201, r.text
        allowed = await api.post(f"/v1/smtp-configs/{r.json()['id']}/test", headers=t.headers)
        assert allowed.status_code == 200 and allowed.json()["ok"] is True
        cfg_id = r.json()["id"]
        refused = await strict_api.post(f"/v1/smtp-configs/{cfg_id}/test", headers=t.headers)
        assert refused.status_code == 422
        assert refused.json()["details"][0]["message"] == "127.0.0.1 is a loopback address"

        deps = ActivityDeps.build(strict)
        try:
            async with build_worker(temporal_env.client, strict, deps):
                inbox = await create_inbox(strict_api, t)
                to = unique("ssrf")
                s = await strict_api.post("/v1/messages/send", headers=t.headers,
                                          json={"inbox_id": inbox["id"], "to": to, "text": "x"})
                assert s.status_code == 202, s.text
                msg_id = s.json()["id"]
                done = await wait_status(strict_api, t.headers, msg_id, "failed", timeout=60)
        finally:
            await deps.close()
        rcpt = done["recipients"][0]
        assert rcpt["status"] == "failed" and rcpt["route"] == "relay"
        ev = await strict_api.get("/v1/delivery/events", headers=t.headers,
                                  params={"message_id": msg_id, "type": "deferred"})
        assert ev.status_code == 200, ev.text
        responses = {e["detail"].get("response") for e in ev.json()["data"]}
        assert "SMTP config host refused: 127.0.0.1 is a loopback address" in responses
        assert sink.for_rcpt(to) == [] and sink.rcpt_attempts[to] == 0  # never connected
