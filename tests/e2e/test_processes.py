"""api, worker and ingress as separate OS processes, wired as docker-compose wires them:
one PostgreSQL, one Temporal, one shared data volume."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx

from settings import Settings
from tests.helpers.processes import listen_port, service_env, spawn, stop, wait_http, wait_port
from tests.helpers.smtp import send_raw, simple_message


async def test_inbox_receives_smtp_mail_across_separate_processes(
    settings: Settings, superadmin_key: str, tmp_path: Path
) -> None:
    api_port, smtp_port = listen_port(), listen_port()
    env = service_env(settings, tmp_path / "data", api_port, smtp_port)
    procs = [spawn(name, env, tmp_path / f"{name}.log") for name in ("api", "worker", "ingress")]
    try:
        base = f"http://127.0.0.1:{api_port}"
        await asyncio.to_thread(wait_http, f"{base}/health", procs)
        await asyncio.to_thread(wait_port, smtp_port)
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            su = {"Authorization": f"Bearer {superadmin_key}"}
            org = (await http.post("/v1/orgs", json={"name": "E2E"}, headers=su)).json()
            h = {"Authorization": f"Bearer {org['api_key']}"}
            r = await http.post("/v1/inboxes", json={"local_part": f"e2e-{uuid.uuid4().hex[:6]}"}, headers=h)
            assert r.status_code == 201, r.text
            inbox = r.json()
            raw = simple_message(inbox["address"], subject="over the wire", body="from another process")
            _, reply = await send_raw(smtp_port, "sender@example.com", [inbox["address"]], raw)
            assert reply.startswith("2.0.0")

            msg: dict[str, Any] = {}
            for _ in range(300):
                data = (await http.get(f"/v1/inboxes/{inbox['id']}/messages", headers=h)).json()["data"]
                if data and data[0]["pipeline_state"] == "done":
                    msg = (await http.get(f"/v1/messages/{data[0]['id']}", headers=h)).json()
                    break
                await asyncio.sleep(0.1)
            assert msg, "the worker process never completed the pipeline"
            assert msg["subject"] == "over the wire"
            assert "from another process" in msg["text"]

            # A second organization's key cannot see the first one's inbox or message.
            other = (await http.post("/v1/orgs", json={"name": "E2E other"}, headers=su)).json()
            oh = {"Authorization": f"Bearer {other['api_key']}"}
            assert (await http.get(f"/v1/inboxes/{inbox['id']}", headers=oh)).status_code == 404
            assert (await http.get(f"/v1/messages/{msg['id']}", headers=oh)).status_code == 404
    finally:
        codes = stop(procs)
    # SIGTERM is a clean stop for every process, not a crash.
    assert codes == [0, 0, 0], [(p.args[-1], c, (tmp_path / f"{p.args[-1]}.log").read_text()[-2000:]) for p, c in zip(procs, codes)]
