"""Search over mail delivered through SMTP and the real pipeline (ingress → Temporal worker →
indexing into Chroma and the database's full-text index): semantic vs keyword, filters,
attachment hits, tenant isolation, deletion and bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from httpx import AsyncClient

from tests.conftest import Tenant, create_inbox
from tests.search.conftest import deliver, mail
from tests.search.documents import docx_with_text, pdf_with_text, xlsx_with_rows

SHIPPING = ("Where is my parcel?!", "I ordered a standing desk three weeks ago and the courier still "
            "has not delivered it. This is unacceptable, I am really angry and want my money back.")  # fmt: skip
INVOICE = ("October statement", "Attached you will find our invoice for consulting services in "
           "October. Payment is due within 30 days by bank transfer.")  # fmt: skip
LUNCH = ("Friday?", "Are we still on for tacos at noon on Friday? I can book a table for four.")


async def search(api: AsyncClient, t: Tenant, path: str = "messages", **params: Any) -> dict[str, Any]:
    r = await api.get(f"/v1/search/{path}", params=params, headers=t.headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_paraphrased_question_finds_mail_semantically_but_not_by_keywords(
    api: AsyncClient, tenant: Tenant, ingress: Any, worker: Any, sessionmaker: Any
) -> None:
    inbox = await create_inbox(api, tenant)
    ids = await deliver(api, tenant, ingress, sessionmaker, inbox, [
        mail(inbox["address"], *SHIPPING, sender="dana@customer.example", name="Dana"),
        mail(inbox["address"], *INVOICE, sender="billing@vendor.example"),
        mail(inbox["address"], *LUNCH, sender="sam@friends.example"),
    ])  # fmt: skip
    shipping_id = ids[0]
    query = "customer furious about late delivery"  # shares no word with the message

    semantic = await search(api, tenant, q=query, inbox_id=inbox["id"], mode="semantic")
    assert semantic["search"]["effective_mode"] == "semantic"
    top = semantic["data"][0]
    assert top["message_id"] == shipping_id
    assert top["search_type"] == "semantic" and top["source_type"] == "message"
    assert 0 < top["score"] <= 1 and all(0 <= h["score"] <= 1 for h in semantic["data"])

    keyword = await search(api, tenant, q=query, inbox_id=inbox["id"], mode="keyword")
    assert shipping_id not in [h["message_id"] for h in keyword["data"]]

    hybrid = await search(api, tenant, q=query, inbox_id=inbox["id"])
    assert hybrid["search"]["mode"] == "hybrid" and hybrid["data"][0]["message_id"] == shipping_id

    exact = await search(api, tenant, q="invoice consulting", inbox_id=inbox["id"], mode="keyword")
    assert [h["message_id"] for h in exact["data"]] == [ids[1]]
    assert exact["data"][0]["search_type"] == "keyword"
    assert "<mark>invoice</mark>" in exact["data"][0]["highlight"]
    assert "<mark>consulting</mark>" in exact["data"][0]["highlight"]

    threads = await search(api, tenant, path="threads", q="tacos lunch", inbox_id=inbox["id"])
    assert threads["data"][0]["matches"][0]["message_id"] == ids[2]
    assert threads["data"][0]["subject"] == "Friday?"


async def test_filters_narrow_results_inside_the_query(
    api: AsyncClient, tenant: Tenant, ingress: Any, worker: Any, sessionmaker: Any
) -> None:
    inbox = await create_inbox(api, tenant)
    ids = await deliver(api, tenant, ingress, sessionmaker, inbox, [
        mail(inbox["address"], "Quarterly report", "The quarterly report on warehouse costs is ready.",
             sender="ana@finance.example", name="Ana Finance"),
        mail(inbox["address"], "Report draft", "A first draft of the warehouse cost report, for review.",
             sender="ben@ops.example", name="Ben Ops",
             attachments=[("notes.txt", "text/plain", b"warehouse notes")]),
    ])  # fmt: skip
    for mode in ("keyword", "semantic", "hybrid"):
        base = {"q": "warehouse cost report", "inbox_id": inbox["id"], "mode": mode}
        both = await search(api, tenant, **base)
        assert {h["message_id"] for h in both["data"]} == set(ids), mode
        by_address = await search(api, tenant, **base, **{"from": "ana@finance.example"})
        assert [h["message_id"] for h in by_address["data"]] == [ids[0]], mode
        by_domain = await search(api, tenant, **base, **{"from": "ops.example"})
        assert [h["message_id"] for h in by_domain["data"]] == [ids[1]], mode
        by_name = await search(api, tenant, **base, **{"from": "Ana Fin"})
        assert [h["message_id"] for h in by_name["data"]] == [ids[0]], mode
        with_files = await search(api, tenant, **base, has_attachment="true")
        assert [h["message_id"] for h in with_files["data"]] == [ids[1]], mode
        future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        assert (await search(api, tenant, **base, since=future))["data"] == [], mode
        assert len((await search(api, tenant, **base, before=future))["data"]) == 2, mode
        assert (await search(api, tenant, **base, category="verification"))["data"] == [], mode


async def test_attachment_text_is_searchable_and_hits_name_the_attachment(
    api: AsyncClient, tenant: Tenant, ingress: Any, worker: Any, sessionmaker: Any
) -> None:
    inbox = await create_inbox(api, tenant)
    pdf = pdf_with_text(["Freight invoice 7781", "Container of ceramic tiles from Valencia", "Total 4200 EUR"])
    docx = docx_with_text(["Memorandum", "The board approved the acquisition of a small bakery chain."])
    xlsx = xlsx_with_rows([["sku", "description", "qty"], ["TX-1", "titanium bicycle frame", 12]])
    ids = await deliver(api, tenant, ingress, sessionmaker, inbox, [
        mail(inbox["address"], "Documents", "See the attached files.", attachments=[
            ("freight.pdf", "application/pdf", pdf),
            ("memo.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", docx),
            ("stock.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", xlsx),
        ]),
    ])  # fmt: skip
    msg = (await api.get(f"/v1/messages/{ids[0]}", headers=tenant.headers)).json()
    att_ids = {a["filename"]: a["id"] for a in msg["attachments"]}
    for q, filename, mode in [
        ("ceramic tiles Valencia", "freight.pdf", "keyword"),
        ("company buys bakeries", "memo.docx", "semantic"),
        ("titanium bicycle frame", "stock.xlsx", "hybrid"),
    ]:
        hit = (await search(api, tenant, q=q, inbox_id=inbox["id"], mode=mode))["data"][0]
        assert hit["message_id"] == ids[0], q
        assert hit["source_type"] == "attachment", q
        assert hit["attachment_id"] == att_ids[filename], q
        assert hit["attachment_filename"] == filename, q


async def domain_of(sessionmaker: Any, inbox_id: str) -> str:
    from store.models import Inbox

    async with sessionmaker() as s:
        inbox = await s.get(Inbox, inbox_id)
        return str(inbox.domain_id)


async def test_search_never_returns_another_tenants_mail(
    api: AsyncClient, tenant: Tenant, other_tenant: Tenant, ingress: Any, worker: Any,
    sessionmaker: Any,
) -> None:  # fmt: skip
    mine = await create_inbox(api, tenant)
    theirs = await create_inbox(api, other_tenant)
    await deliver(api, other_tenant, ingress, sessionmaker, theirs, [
        mail(theirs["address"], "Secret pricing", "Our confidential zebra pricing for the merger."),
    ])  # fmt: skip
    await deliver(api, tenant, ingress, sessionmaker, mine, [
        mail(mine["address"], "Hello", "Nothing about animals here."),
    ])  # fmt: skip
    domain_id = await domain_of(sessionmaker, mine["id"])
    assert domain_id == await domain_of(sessionmaker, theirs["id"])  # the shared default domain
    for mode in ("keyword", "semantic", "hybrid"):
        found = await search(api, tenant, q="zebra pricing merger", domain_id=domain_id, mode=mode)
        assert all(h["inbox_id"] == mine["id"] for h in found["data"]), mode
        r = await api.get("/v1/search/messages", params={"q": "zebra", "inbox_id": theirs["id"], "mode": mode},
                          headers=tenant.headers)  # fmt: skip
        assert r.status_code == 404 and r.json()["details"][0]["field"] == "inbox_id"
    # The owner does find it (the negative above is not an empty index).
    found = await search(api, other_tenant, q="zebra pricing merger", inbox_id=theirs["id"])
    assert found["data"][0]["subject"] == "Secret pricing"


async def test_deleting_a_message_removes_its_vectors_and_keyword_rows(
    api: AsyncClient, tenant: Tenant, ingress: Any, worker: Any, sessionmaker: Any, settings: Any
) -> None:
    from sqlalchemy import func, select

    from search.embeddings import get_embedder
    from search.vector_index import VectorIndex
    from store.models import SearchDocument

    inbox = await create_inbox(api, tenant)
    (mid,) = await deliver(api, tenant, ingress, sessionmaker, inbox, [
        mail(inbox["address"], "Kayak rental", "Two kayaks for Saturday on the lake, please.",
             attachments=[("terms.txt", "text/plain", b"Kayak rental terms: life vests required.")]),
    ])  # fmt: skip
    index = VectorIndex(settings, "mail", get_embedder(settings).name)
    assert index.count(inbox["id"], {"message_id": mid}) >= 2  # body + attachment chunks
    async with sessionmaker() as s:
        assert await s.scalar(select(func.count()).where(SearchDocument.message_id == mid)) == 2
    r = await api.delete(f"/v1/messages/{mid}", headers=tenant.headers)
    assert r.status_code == 204, r.text
    assert index.count(inbox["id"], {"message_id": mid}) == 0
    async with sessionmaker() as s:
        assert await s.scalar(select(func.count()).where(SearchDocument.message_id == mid)) == 0
    for mode in ("keyword", "semantic"):
        assert (await search(api, tenant, q="kayak rental lake", inbox_id=inbox["id"], mode=mode))["data"] == []


async def test_bad_search_input_is_a_422_naming_the_parameter(
    api: AsyncClient, tenant: Tenant
) -> None:
    inbox = await create_inbox(api, tenant)
    cases = [
        ({"q": "", "inbox_id": inbox["id"]}, "q"),
        ({"q": "   ", "inbox_id": inbox["id"]}, "q"),
        ({"q": "x" * 10_000, "inbox_id": inbox["id"]}, "q"),
        ({"inbox_id": inbox["id"]}, "q"),
        ({"q": "hello"}, "inbox_id"),
        ({"q": "hello", "inbox_id": inbox["id"], "domain_id": "dom_x"}, "inbox_id"),
        ({"q": "hello", "inbox_id": inbox["id"], "mode": "fuzzy"}, "mode"),
        ({"q": "hello", "inbox_id": inbox["id"], "limit": "0"}, "limit"),
        ({"q": "hello", "inbox_id": inbox["id"], "limit": "101"}, "limit"),
        ({"q": "hello", "inbox_id": inbox["id"], "limit": "ten"}, "limit"),
    ]
    for params, field in cases:
        for path in ("messages", "threads"):
            r = await api.get(f"/v1/search/{path}", params=params, headers=tenant.headers)
            assert r.status_code == 422, (params, r.text)
            body = r.json()
            assert body["code"] == "validation_error"
            assert field in [d["field"] for d in body["details"]], (params, body)
    r = await api.get("/v1/search/messages", params={"q": "hi", "inbox_id": "inb_nope"}, headers=tenant.headers)
    assert r.status_code == 404
