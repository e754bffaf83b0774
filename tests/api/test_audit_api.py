"""`GET /v1/audit`: the organization's audit log with filters and cursor pagination, through
the same service function as the MCP `audit_review` tool; tenant-scoped, scope analytics.read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.conftest import Tenant, create_inbox
from tests.mcp.conftest import key_with, sdk_session


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def audit(api: httpx.AsyncClient, key: str, **params: Any) -> httpx.Response:
    return await api.get("/v1/audit", params=params, headers=bearer(key))


async def test_audit_lists_org_entries_with_filters_and_pages(api: httpx.AsyncClient, tenant: Tenant) -> None:
    reader = await key_with(api, tenant, "analytics.read")
    maker = await key_with(api, tenant, "inboxes.manage")
    before_all = datetime.now(UTC) - timedelta(seconds=1)
    made = [(await api.post("/v1/inboxes", json={"name": f"a{i}"}, headers=bearer(maker))).json()["id"]
            for i in range(3)]  # fmt: skip
    r = await audit(api, reader, action="inbox.create", since=before_all.isoformat())
    assert r.status_code == 200, r.text
    body = r.json()
    assert [e["resource_id"] for e in body["data"]] == made[::-1]  # newest first
    entry = body["data"][0]
    assert entry["action"] == "inbox.create" and entry["resource_type"] == "inbox" and entry["outcome"] == "ok"
    assert entry["actor_type"] == "api_key" and entry["actor_id"].startswith("key_")
    maker_id = entry["actor_id"]
    # actor filter: only what the maker key did
    r = await audit(api, reader, actor_id=maker_id)
    assert {e["resource_id"] for e in r.json()["data"]} == set(made)
    # resource filter
    r = await audit(api, reader, resource_id=made[1])
    assert [e["resource_id"] for e in r.json()["data"]] == [made[1]]
    # time window: nothing before the inboxes were made, nothing after now
    r = await audit(api, reader, action="inbox.create", before=before_all.isoformat())
    assert r.status_code == 200 and not [e for e in r.json()["data"] if e["resource_id"] in made]
    r = await audit(api, reader, since=(datetime.now(UTC) + timedelta(minutes=1)).isoformat())
    assert r.json() == {"data": [], "next_cursor": None, "has_more": False}
    # cursor pagination walks the same entries, one at a time
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"actor_id": maker_id, "limit": 1}
        if cursor:
            params["cursor"] = cursor
        page = (await audit(api, reader, **params)).json()
        seen += [e["resource_id"] for e in page["data"]]
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        cursor = page["next_cursor"]
    assert seen == made[::-1]


async def test_audit_matches_the_mcp_audit_review_tool(api: httpx.AsyncClient, tenant: Tenant) -> None:
    key = await key_with(api, tenant, "analytics.read", "mcp.access")
    inbox = await create_inbox(api, tenant, local_part="audit-mcp")
    rest = (await audit(api, key, resource_id=inbox["id"])).json()["data"]
    async with sdk_session(str(api.base_url), key) as session:
        result = await session.call_tool("audit_review", {"resource_id": inbox["id"]})
        bad = await session.call_tool("audit_review", {"since": "2026-01-02T00:00:00Z", "before": "2026-01-01T00:00:00Z"})
    assert result.is_error is False, result.content
    assert [e["id"] for e in result.structured_content["data"]] == [e["id"] for e in rest]
    assert [e["action"] for e in rest] == ["inbox.create"]
    assert bad.is_error is True and '"field": "before"' in bad.content[0].text


async def test_audit_is_tenant_scoped(api: httpx.AsyncClient, tenant: Tenant, other_tenant: Tenant) -> None:
    inbox = await create_inbox(api, tenant, local_part="audit-mine")
    mine = await key_with(api, tenant, "analytics.read")
    theirs = await key_with(api, other_tenant, "analytics.read")
    assert [e["action"] for e in (await audit(api, mine, resource_id=inbox["id"])).json()["data"]] == ["inbox.create"]
    # the other tenant cannot see the entry by resource, by actor, or by walking its own log
    r = await audit(api, theirs, resource_id=inbox["id"])
    assert r.status_code == 200 and r.json()["data"] == []
    actor = (await audit(api, mine, resource_id=inbox["id"])).json()["data"][0]["actor_id"]
    assert (await audit(api, theirs, actor_id=actor)).json()["data"] == []
    everything = (await audit(api, theirs, limit=100)).json()["data"]
    assert inbox["id"] not in {e["resource_id"] for e in everything}


async def test_audit_needs_analytics_read_and_rejects_bad_filters(api: httpx.AsyncClient, tenant: Tenant) -> None:
    reader = await key_with(api, tenant, "mail.read")
    r = await audit(api, reader)
    assert r.status_code == 403, r.text
    key = await key_with(api, tenant, "analytics.read")
    r = await audit(api, key, since="2026-01-02T00:00:00Z", before="2026-01-01T00:00:00Z")
    assert r.status_code == 400 and r.json()["details"][0]["field"] == "before", r.text
    for params, field in (({"since": "yesterday"}, "since"), ({"limit": 0}, "limit"),
                          ({"cursor": "!!!"}, "cursor"), ({"actor_id": "x" * 41}, "actor_id")):  # fmt: skip
        r = await audit(api, key, **params)
        assert r.status_code == 400, (params, r.text)
        assert field in r.text, (params, r.text)
