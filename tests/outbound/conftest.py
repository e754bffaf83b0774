"""Outbound test rig: an aiosmtpd sink as the smarthost, and an api + worker pair configured
for the `relay` transport to it with second-scale retries, on a task queue of their own (the
session's `api`/`worker` keep the dev default `capture`). Same PostgreSQL and Temporal."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment

from settings import Settings
from tests.conftest import Tenant, create_inbox, make_tenant
from tests.helpers.eventually import eventually
from tests.helpers.smtp_sink import SmtpSink
from tests.helpers.stack import running_worker, served_api


@pytest.fixture(scope="session")
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as s:
        yield s


@pytest.fixture(scope="session")
def relay_settings(settings: Settings, sink: SmtpSink) -> Settings:
    return settings.model_copy(update={
        "task_queue": f"outbound-{uuid.uuid4().hex[:8]}",
        "outbound_transport": "relay",
        "relay_url": SecretStr(f"smtp://127.0.0.1:{sink.port}"),
        "outbound_retry_schedule": "1s,1s,2s",
        "outbound_retry_hours": 0.01,  # 36 s: long enough for the scripted retries
        "outbound_smtp_timeout_seconds": 5.0,
    })  # fmt: skip


@pytest.fixture(scope="session")
async def relay_worker(relay_settings: Settings, temporal_env: WorkflowEnvironment,
                       superadmin_key: str) -> AsyncIterator[Any]:  # fmt: skip
    async with running_worker(temporal_env.client, relay_settings) as w:
        yield w


@pytest.fixture(scope="session")
async def relay_api(relay_settings: Settings, superadmin_key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with served_api(relay_settings, timeout=60) as client:
        yield client


@pytest.fixture
async def relay_tenant(relay_api: httpx.AsyncClient, superadmin_key: str) -> Tenant:
    return await make_tenant(relay_api, superadmin_key, name="Relay Co")


async def add_key(api: httpx.AsyncClient, t: Tenant, scopes: list[str]) -> dict[str, str]:
    r = await api.post("/v1/api-keys", json={"name": "k", "scopes": scopes}, headers=t.headers)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['api_key']}"}


async def wait_status(api: httpx.AsyncClient, headers: dict[str, str], message_id: str,
                      *statuses: str, timeout: float = 30) -> dict[str, Any]:  # fmt: skip
    async def probe() -> dict[str, Any] | None:
        r = await api.get(f"/v1/messages/{message_id}/delivery", headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        return body if body["status"] in statuses else None

    return await eventually(probe, timeout=timeout, interval=0.1)


def unique(prefix: str = "rcpt", domain: str = "example.com") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@{domain}"


__all__ = ["add_key", "create_inbox", "unique", "wait_status"]
