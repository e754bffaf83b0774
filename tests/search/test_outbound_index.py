"""Outbound mail is searchable too: OutboundMail indexes what it sent (capture transport, the
real api + worker), so "have I written to this person before" finds the sent message."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient

from tests.conftest import Tenant, create_inbox
from tests.outbound.conftest import wait_status
from tests.search.conftest import indexed


async def _search(api: AsyncClient, t: Tenant, **params: Any) -> list[dict[str, Any]]:
    r = await api.get("/v1/search/messages", params=params, headers=t.headers)
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


async def test_sent_mail_is_found_by_keyword_and_semantic_search(
    api: AsyncClient, worker: Any, tenant: Tenant, other_tenant: Tenant, sessionmaker: Any
) -> None:
    inbox = await create_inbox(api, tenant)
    r = await api.post("/v1/messages/send", headers=tenant.headers, json={
        "inbox_id": inbox["id"], "to": "Carla <carla@harbor.example>",
        "subject": "Refund for the broken espresso machine",
        "text": "Hi Carla, we have issued a full refund for the espresso machine that arrived "
                "cracked. The money should be back on your card within five business days.",
    })  # fmt: skip
    assert r.status_code == 202, r.text
    sent_id = r.json()["id"]
    await wait_status(api, tenant.headers, sent_id, "captured")
    state = await indexed(sessionmaker, sent_id)
    assert state["documents"] >= 1 and state["vectors"] >= 1, state

    keyword = await _search(api, tenant, q="espresso refund", inbox_id=inbox["id"], mode="keyword")
    assert [h["message_id"] for h in keyword] == [sent_id]
    assert keyword[0]["direction"] == "outbound" and keyword[0]["search_type"] == "keyword"
    assert "<mark>espresso</mark>" in keyword[0]["highlight"]

    # A paraphrase sharing no word with the mail: only the vectors can find it.
    semantic = await _search(api, tenant, q="money returned for damaged coffee maker",
                             inbox_id=inbox["id"], mode="semantic")  # fmt: skip
    assert semantic and semantic[0]["message_id"] == sent_id
    assert semantic[0]["search_type"] == "semantic" and semantic[0]["direction"] == "outbound"

    # Another tenant cannot search that inbox.
    r = await api.get("/v1/search/messages", headers=other_tenant.headers,
                      params={"q": "espresso refund", "inbox_id": inbox["id"], "mode": "keyword"})
    assert r.status_code == 404, r.text
