"""The blocking waits have one code path (api/actions/waits.py) for the REST routes
(`GET /v1/inboxes/{id}/wait|otp`), the MCP tools and the agent chat: the same answer for the
same message and the same `wait_timeout` error naming the caller's timeout field."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from httpx import AsyncClient

from api.actions import waits as wait_actions
from api.mcp import tools as mcp_tools
from api.routes import waits as wait_routes
from tests.api.test_waits import deliver, started_waits
from tests.conftest import Tenant, create_inbox
from tests.mcp.conftest import key_with, sdk_session


def test_otp_view_and_helpers_live_in_the_shared_action() -> None:
    assert wait_routes.OtpView is wait_actions.OtpView
    assert wait_routes.otp_of is wait_actions.otp_of
    assert wait_routes.otp_of_result is wait_actions.otp_of_result
    otp_tool = next(t for t in mcp_tools.MAIL_TOOLS if t.name == "wait_for_otp")
    assert otp_tool.output is wait_actions.OtpView


async def test_rest_and_mcp_otp_waits_answer_the_same_message_identically(
    api: AsyncClient, tenant: Tenant, ingress: Any, worker: Any, sessionmaker: Any
) -> None:
    inbox = await create_inbox(api, tenant, local_part="shared-otp")
    key = await key_with(api, tenant, "mcp.access", "mail.read")
    async with sdk_session(str(api.base_url), key) as session:
        rest = asyncio.create_task(api.get(f"/v1/inboxes/{inbox['id']}/otp", params={"timeout": 60},
                                           headers=tenant.headers))  # fmt: skip
        mcp = asyncio.create_task(session.call_tool("wait_for_otp", {"inbox_id": inbox["id"], "timeout_seconds": 60}))
        await started_waits(api, sessionmaker, inbox["id"], 2)
        await deliver(ingress, inbox["address"], sender="noreply@service.example",
                      subject="Your code", body="Your verification code is 739184")  # fmt: skip
        r, result = await rest, await mcp
    assert r.status_code == 200, r.text
    assert result.is_error is False, result.content
    assert r.json()["code"] == result.structured_content["code"] == "739184"
    same = ("code", "all_codes", "from", "subject", "email_id")
    assert {k: r.json()[k] for k in same} == {k: result.structured_content[k] for k in same}


async def test_mcp_wait_timeout_is_the_shared_408_naming_timeout_seconds(
    api: AsyncClient, tenant: Tenant, worker: Any
) -> None:
    inbox = await create_inbox(api, tenant, local_part="shared-timeout")
    key = await key_with(api, tenant, "mcp.access", "mail.read")
    async with sdk_session(str(api.base_url), key) as session:
        for tool in ("wait_for_mail", "wait_for_otp"):
            result = await session.call_tool(tool, {"inbox_id": inbox["id"], "timeout_seconds": 1})
            assert result.is_error is True
            err = json.loads(result.content[0].text)["error"]
            assert err["code"] == "wait_timeout"
            assert err["details"] == [{"field": "timeout_seconds", "message": "1s elapsed"}]
    r = await api.get(f"/v1/inboxes/{inbox['id']}/otp", params={"timeout": 1}, headers=tenant.headers)
    assert r.status_code == 408 and r.json()["code"] == "wait_timeout"
    assert r.json()["details"] == [{"field": "timeout", "message": "1s elapsed"}]
