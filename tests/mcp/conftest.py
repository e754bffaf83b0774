"""MCP test helpers: API keys with chosen scopes, and an official `mcp` SDK client session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from tests.conftest import Tenant


async def key_with(api: httpx.AsyncClient, t: Tenant, *scopes: str, **extra: Any) -> str:
    r = await api.post("/v1/api-keys", json={"name": "mcp", "scopes": list(scopes), **extra}, headers=t.headers)
    assert r.status_code == 201, r.text
    return r.json()["api_key"]  # type: ignore[no-any-return]


@asynccontextmanager
async def sdk_session(base_url: str, key: str) -> AsyncIterator[ClientSession]:
    """A legacy-handshake (initialize + Mcp-Session-Id) session through the SDK's transport."""
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
    async with http, streamable_http_client(f"{base_url}/mcp", http_client=http) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            yield session


def rpc(method: str, params: dict[str, Any] | None = None, id_: int | str | None = 1) -> dict[str, Any]:
    msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        msg["params"] = params
    if id_ is not None:
        msg["id"] = id_
    return msg
