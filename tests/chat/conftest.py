"""Chat fixtures: the local OpenAI-compatible LLM server, and an API + worker configured to use
it on their own task queue (the session's main worker and API run without an LLM)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from settings import Settings
from tests.conftest import Tenant
from tests.conftest import llm_settings as shared_llm_settings
from tests.helpers.llm_server import LLMServer
from tests.helpers.stack import running_worker, served_api


@pytest.fixture(scope="session")
def llm(llm_server: LLMServer) -> LLMServer:
    return llm_server


def llm_settings(settings: Settings, llm: LLMServer) -> Settings:
    """The session settings pointed at the local LLM, on a task queue of their own."""
    return shared_llm_settings(settings, llm, task_queue=f"postflow-chat-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="session")
def chat_settings(settings: Settings, llm: LLMServer) -> Settings:
    return llm_settings(settings, llm)


@pytest.fixture(scope="session")
async def chat_worker(chat_settings: Settings, temporal_env: WorkflowEnvironment, superadmin_key: str) -> AsyncIterator[Any]:
    async with running_worker(temporal_env.client, chat_settings) as w:
        yield w


@pytest.fixture(scope="session")
async def chat_api(chat_settings: Settings, superadmin_key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with served_api(chat_settings) as client:
        yield client


@pytest.fixture
def script(llm: LLMServer) -> LLMServer:
    llm.reset()
    return llm


async def settled(api: httpx.AsyncClient, t: Tenant, run_id: str, after: int = 0, status: str | None = None) -> dict[str, Any]:
    """Long-poll the run until it settles (and, if given, reaches `status`)."""
    for _ in range(30):
        r = await api.get(f"/v1/chat/{run_id}", params={"wait": 10, "after": after}, headers=t.headers)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        if body["status"] != "thinking" and (status is None or body["status"] == status):
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"run {run_id} did not settle: {body}")


def call(name: str, arguments: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": arguments}]}
