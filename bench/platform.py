"""A running Postflow for a benchmark: database, Temporal, DNS, migrations and bootstrap, then
Postflow's own processes (`python -m commands worker|ingress|api`), and a tenant over HTTP."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from dataclasses import dataclass
from typing import Any

from bench.harness import MASTER_KEY, BenchError, Database, Stack, free_port


@dataclass
class Platform:
    """A running Postflow: settings, ports, the superadmin key and the components under it."""

    settings: Any
    env: dict[str, str]
    db: Database
    temporal_address: str
    api_url: str
    smtp_port: int
    superadmin_key: str


async def start_platform(
    stack: Stack, services: tuple[str, ...] = ("worker", "ingress", "api"),
    extra: dict[str, str] | None = None,
) -> Platform:  # fmt: skip
    """Database, Temporal, DNS, migrations + bootstrap, then Postflow's own processes."""
    from commands.services import bootstrap_async
    from settings import load_settings

    db = stack.database()
    temporal_address = await stack.temporal()
    dns = stack.dns()
    api_port, smtp_port = free_port(), free_port()
    values = {
        "DATABASE_URL": db.sqlalchemy_url,
        "TEMPORAL_ADDRESS": temporal_address,
        "TASK_QUEUE": f"bench-{uuid.uuid4().hex[:8]}",
        "DATA_DIR": str(stack.tmp / "data"),
        "MASTER_KEY": MASTER_KEY,
        "API_PORT": str(api_port),
        "SMTP_PORT": str(smtp_port),
        "LOG_LEVEL": "WARNING",
        "DNS_SERVERS": f"127.0.0.1:{dns.port}",
        **(extra or {}),  # more settings, without the POSTFLOW_ prefix
    }
    settings = load_settings({f"POSTFLOW_{k}": v for k, v in values.items()})
    key = await bootstrap_async(settings)
    if not key:
        raise BenchError("bootstrap of a fresh database returned no superadmin key")
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTFLOW_")}
    env.update({f"POSTFLOW_{k}": v for k, v in values.items()})
    env.update({"LITELLM_LOCAL_MODEL_COST_MAP": "True", "ORT_DISABLE_TELEMETRY": "1"})
    for name in services:
        stack.spawn(name, [sys.executable, "-m", "commands", name], env)
    api_url = f"http://127.0.0.1:{api_port}"
    if "api" in services:
        await stack.wait_http(f"{api_url}/health", "api")
    if "ingress" in services:
        await stack.wait_port(smtp_port, "ingress")
    return Platform(
        settings=settings,
        env=env,
        db=db,
        temporal_address=temporal_address,
        api_url=api_url,
        smtp_port=smtp_port,
        superadmin_key=key,
    )


async def create_tenant(
    platform: Platform, inboxes: int = 1
) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """An organization (API key from `POST /v1/orgs`) and `inboxes` new inboxes, over HTTP."""
    import httpx

    async with httpx.AsyncClient(base_url=platform.api_url, timeout=30) as http:
        su = {"Authorization": f"Bearer {platform.superadmin_key}"}
        r = await http.post("/v1/orgs", json={"name": "Bench"}, headers=su)
        if r.status_code != 201:
            raise BenchError(f"POST /v1/orgs answered {r.status_code}: {r.text[:500]}")
        headers = {"Authorization": f"Bearer {r.json()['api_key']}"}
        sem = asyncio.Semaphore(8)

        async def one(i: int) -> dict[str, Any]:
            body = {"local_part": f"bench-{uuid.uuid4().hex[:10]}", "name": f"Bench {i}"}
            async with sem:
                r = await http.post("/v1/inboxes", json=body, headers=headers)
            if r.status_code != 201:
                raise BenchError(f"POST /v1/inboxes answered {r.status_code}: {r.text[:500]}")
            return r.json()  # type: ignore[no-any-return]

        created = await asyncio.gather(*(one(i) for i in range(inboxes)))
    return headers, list(created)
