"""Bring-your-own SMTP configs (sealed, masked, tested, used for every remote recipient when
default) and the `direct` transport (MX lookup through the local DNS fixture to a sink)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from settings import Settings
from tests.conftest import Tenant, create_inbox, make_tenant
from tests.helpers.smtp_sink import SmtpSink
from tests.outbound.conftest import unique, wait_status


async def test_smtp_configs_are_sealed_masked_tested_and_used(
    api: httpx.AsyncClient, worker: Any, tenant: Tenant, other_tenant: Tenant, sessionmaker: Any
) -> None:
    from store.models import SmtpConfig

    with SmtpSink() as sink:
        r = await api.post("/v1/smtp-configs", headers=tenant.headers, json={
            "name": "with auth", "host": "127.0.0.1", "port": sink.port, "security": "none",
            "username": "u", "password": "hunter2-secret"})  # fmt: skip
        assert r.status_code == 201, r.text
        authed = r.json()
        assert authed["password"] == "********" and "hunter2" not in r.text
        async with sessionmaker() as s:
            row = await s.scalar(select(SmtpConfig).where(SmtpConfig.id == authed["id"]))
        assert row.password_sealed and "hunter2" not in row.password_sealed
        # The sink offers no AUTH without TLS: the test says so instead of failing later.
        t = await api.post(f"/v1/smtp-configs/{authed['id']}/test", headers=tenant.headers)
        assert t.status_code == 200 and t.json()["ok"] is False
        r = await api.post("/v1/smtp-configs", headers=tenant.headers, json={
            "name": "plain", "host": "127.0.0.1", "port": sink.port, "security": "none"})
        plain = r.json()
        t = await api.post(f"/v1/smtp-configs/{plain['id']}/test", headers=tenant.headers)
        assert t.json() == {"ok": True, "code": 250, "message": t.json()["message"]}
        d = await api.post(f"/v1/smtp-configs/{plain['id']}/default", headers=tenant.headers)
        assert d.status_code == 200 and d.json()["is_default"] is True
        listed = (await api.get("/v1/smtp-configs", headers=tenant.headers)).json()["data"]
        assert {c["id"]: c["is_default"] for c in listed} == {authed["id"]: False, plain["id"]: True}
        # Another organization sees none of it.
        assert (await api.get(f"/v1/smtp-configs/{plain['id']}", headers=other_tenant.headers)).status_code == 404
        assert (await api.get("/v1/smtp-configs", headers=other_tenant.headers)).json()["data"] == []
        # The platform transport is `capture`, but this organization's relay carries its mail.
        inbox = await create_inbox(api, tenant)
        to = unique("byo")
        r = await api.post("/v1/messages/send", headers=tenant.headers,
                           json={"inbox_id": inbox["id"], "to": to, "text": "via my relay"})
        done = await wait_status(api, tenant.headers, r.json()["id"], "sent")
        assert done["recipients"][0]["route"] == "relay" and len(sink.for_rcpt(to)) == 1
        assert (await api.delete(f"/v1/smtp-configs/{plain['id']}", headers=tenant.headers)).status_code == 204
        r = await api.post("/v1/messages/send", headers=tenant.headers,
                           json={"inbox_id": inbox["id"], "to": unique("cap"), "text": "x"})
        await wait_status(api, tenant.headers, r.json()["id"], "captured")


async def test_direct_transport_delivers_to_the_domains_mx(
    settings: Settings, temporal_env: WorkflowEnvironment, superadmin_key: str, session_dns: Any
) -> None:
    from tests.helpers.stack import running_worker, served_api

    domain = f"d{uuid.uuid4().hex[:8]}.test"
    session_dns.add(domain, MX=[f"10 mx1.{domain}.", f"20 mx2.{domain}."])
    session_dns.add(f"mx1.{domain}", A=["127.0.0.1"])
    session_dns.add(f"mx2.{domain}", A=["127.0.0.1"])
    session_dns.add(f"nomx.{domain}", A=["127.0.0.1"])  # no MX: the A record is the MX
    with SmtpSink() as sink:
        conf = settings.model_copy(update={
            "task_queue": f"direct-{uuid.uuid4().hex[:8]}", "outbound_transport": "direct",
            "direct_smtp_port": sink.port})  # fmt: skip
        async with running_worker(temporal_env.client, conf), served_api(conf, timeout=30) as api:
            t = await make_tenant(api, superadmin_key, name="Direct Co")
            inbox = await create_inbox(api, t)
            a, b = f"ann@{domain}", f"bob@nomx.{domain}"
            r = await api.post("/v1/messages/send", headers=t.headers,
                               json={"inbox_id": inbox["id"], "to": [a, b], "text": "hi"})
            assert r.status_code == 202, r.text
            done = await wait_status(api, t.headers, r.json()["id"], "sent")
        assert {x["address"]: x["route"] for x in done["recipients"]} == {a: "direct", b: "direct"}
        assert len(sink.for_rcpt(a)) == 1 and len(sink.for_rcpt(b)) == 1
    assert session_dns.query_count(domain, "MX") >= 1
