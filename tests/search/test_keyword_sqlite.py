"""Keyword search on SQLite (the dev default): FTS5, created on first use by search/keyword.py,
fed by the real indexer, queried by the real search service, and emptied when a message is
deleted the way DELETE /v1/messages/{id} deletes it. A real SQLite file migrated with the
real Alembic migrations; no PostgreSQL in this module."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from settings import Settings, load_settings

MAILS = [
    ("Invoice for October consulting", "Our invoice for consulting services in October is attached."
     " Payment is due within 30 days by bank transfer.", "billing@vendor.example"),
    ("Where is my parcel?", "The courier still has not delivered the standing desk I ordered.",
     "dana@customer.example"),
    ("Tacos on Friday", "Are we still on for tacos at noon? I can book a table for four.",
     "sam@friends.example"),
]  # fmt: skip


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return load_settings({}, data_dir=str(tmp_path), database_url=f"sqlite+aiosqlite:///{tmp_path}/pf.db",
                         master_key="test-master-key-0123456789abcdef", log_level="WARNING")  # fmt: skip


@pytest.fixture
async def sqlite_sm(sqlite_settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    from store.engine import create_engine, create_sessionmaker
    from store.migrate import upgrade

    await upgrade(sqlite_settings)
    engine = create_engine(sqlite_settings)
    assert engine.dialect.name == "sqlite"
    yield create_sessionmaker(engine)
    await engine.dispose()


async def _org_with_inbox(sm: async_sessionmaker[AsyncSession], name: str) -> tuple[Any, str]:
    from store import orgs
    from store.base import new_id
    from store.models import Domain, Inbox
    from store.scope import TenantScope

    async with sm.begin() as s:
        org, *_ = await orgs.create_organization(s, name=name, admin_email=None)
        domain = Domain(id=new_id("dom"), org_id=org.id, name=f"{new_id('d')}.example")
        s.add(domain)
        await s.flush()
        inbox = Inbox(id=new_id("inb"), org_id=org.id, domain_id=domain.id, local_part="agent",
                      address=f"agent@{domain.name}")  # fmt: skip
        s.add(inbox)
    return TenantScope(org_id=org.id), inbox.id


async def _store_and_index(sm: async_sessionmaker[AsyncSession], settings: Settings, org_id: str,
                           inbox_id: str, subject: str, body: str, sender: str) -> str:  # fmt: skip
    from search.indexer import index_message
    from store.base import new_id, utcnow
    from store.blobs import BlobStore
    from store.models import Message

    msg = Message(id=new_id("msg"), org_id=org_id, inbox_id=inbox_id, direction="inbound",
                  status="received", pipeline_state="done", subject=subject, from_address=sender,
                  from_name=sender.split("@")[0], text=body, stripped_text=body, snippet=body[:200],
                  received_at=utcnow(), labels=[], extracted={}, analysis={})  # fmt: skip
    async with sm.begin() as s:
        s.add(msg)
    result = await index_message(settings, sm, BlobStore(settings.blobs_path), msg.id)
    assert result.documents == 1, result
    return msg.id


async def _keyword(sm: async_sessionmaker[AsyncSession], settings: Settings, scope: Any, inbox_id: str,
                   q: str) -> list[Any]:  # fmt: skip
    from api.actions.search import search_messages
    from contracts.search import SearchParams

    async with sm() as s:
        res = await search_messages(s, settings, scope, SearchParams(q=q, inbox_id=inbox_id, mode="keyword"))
    assert res.search.effective_mode == "keyword"
    return res.data


async def _fts_rows(sm: async_sessionmaker[AsyncSession], message_id: str) -> int:
    async with sm() as s:
        return int((await s.execute(text(
            "SELECT count(*) FROM search_fts f JOIN search_documents d ON d.id = f.doc_id "
            "WHERE d.message_id = :m"), {"m": message_id})).scalar_one())  # fmt: skip


async def _fts_total(sm: async_sessionmaker[AsyncSession]) -> int:
    async with sm() as s:
        return int((await s.execute(text("SELECT count(*) FROM search_fts"))).scalar_one())


async def test_fts5_keyword_search_ranks_highlights_isolates_and_forgets_deleted_mail(
    sqlite_sm: async_sessionmaker[AsyncSession], sqlite_settings: Settings
) -> None:
    from search.indexer import remove_message
    from store import messages
    from store.errors import NotFound

    sm, settings = sqlite_sm, sqlite_settings
    scope, inbox_id = await _org_with_inbox(sm, "Fts Co")
    other_scope, other_inbox = await _org_with_inbox(sm, "Other Co")
    ids = [await _store_and_index(sm, settings, scope.org_id, inbox_id, *m) for m in MAILS]
    theirs = await _store_and_index(sm, settings, other_scope.org_id, other_inbox,
                                    "Consulting invoice", "Invoice for consulting, October.", "x@y.example")  # fmt: skip
    # The FTS5 table exists now (first use) and mirrors every indexed document.
    assert await _fts_total(sm) == 4

    hits = await _keyword(sm, settings, scope, inbox_id, "consulting invoice payment")
    assert [h.message_id for h in hits] == [ids[0]]  # the other tenant's invoice is not here
    assert hits[0].search_type == "keyword" and 0 < hits[0].score <= 1
    assert "<mark>invoice</mark>" in hits[0].highlight and "<mark>consulting</mark>" in hits[0].highlight
    # OR-ed terms, porter stemming: "delivery" finds "delivered"; ranking puts more matches first.
    stemmed = await _keyword(sm, settings, scope, inbox_id, "desk delivery")
    assert [h.message_id for h in stemmed] == [ids[1]]
    several = await _keyword(sm, settings, scope, inbox_id, "tacos table invoice")
    assert [h.message_id for h in several] == [ids[2], ids[0]]
    assert several[0].score >= several[1].score
    # Quotes, FTS5 operators and punctuation are words, never query syntax errors.
    assert await _keyword(sm, settings, scope, inbox_id, 'NEAR("tacos" OR) AND -* ^invoice:') != []
    assert await _keyword(sm, settings, scope, inbox_id, "the and of") == []  # stopwords only
    # Another tenant cannot search this inbox, and sees only its own mail in theirs.
    with pytest.raises(NotFound):
        await _keyword(sm, settings, other_scope, inbox_id, "invoice")
    assert [h.message_id for h in await _keyword(sm, settings, other_scope, other_inbox, "invoice")] == [theirs]

    # Deleting a message as DELETE /v1/messages/{id} does removes its FTS5 rows and its hits.
    assert await _fts_rows(sm, ids[0]) == 1
    async with sm.begin() as s:
        msg = await messages.get_message(s, scope, ids[0])
        await messages.delete_message(s, msg)
        await remove_message(s, settings, inbox_id, ids[0])
    assert await _fts_rows(sm, ids[0]) == 0
    async with sm() as s:
        left = (await s.execute(text("SELECT count(*) FROM search_fts f WHERE f.doc_id NOT IN "
                                     "(SELECT id FROM search_documents)"))).scalar_one()  # fmt: skip
    assert left == 0 and await _fts_total(sm) == 3
    assert await _keyword(sm, settings, scope, inbox_id, "consulting invoice payment") == []
    assert [h.message_id for h in await _keyword(sm, settings, scope, inbox_id, "tacos")] == [ids[2]]

    # Re-indexing a message replaces its rows instead of duplicating them.
    from search.indexer import index_message
    from store.blobs import BlobStore

    await index_message(settings, sm, BlobStore(settings.blobs_path), ids[2])
    assert await _fts_rows(sm, ids[2]) == 1


async def test_rows_written_before_the_fts5_table_existed_are_found(
    sqlite_sm: async_sessionmaker[AsyncSession], sqlite_settings: Settings
) -> None:
    """A restored database: search_documents rows but no FTS5 table yet. First use creates it
    and copies them in."""
    from store.base import new_id, utcnow
    from store.models import Message, SearchDocument

    sm = sqlite_sm
    scope, inbox_id = await _org_with_inbox(sm, "Restored Co")
    mid = new_id("msg")
    async with sm.begin() as s:
        s.add(Message(id=mid, org_id=scope.org_id, inbox_id=inbox_id, direction="inbound",
                      status="received", pipeline_state="done", subject="Lease renewal",
                      from_address="landlord@rent.example", from_name="L", text="t", snippet="t",
                      received_at=utcnow(), labels=[], extracted={}, analysis={}))  # fmt: skip
        await s.flush()
        s.add(SearchDocument(id=new_id("sdoc"), org_id=scope.org_id, inbox_id=inbox_id, message_id=mid,
                             source_type="message", title="Lease renewal",
                             body="The apartment lease renews in March unless cancelled."))  # fmt: skip
    async with sm() as s:
        exists = (await s.execute(text(
            "SELECT count(*) FROM sqlite_master WHERE name = 'search_fts'"))).scalar_one()  # fmt: skip
    assert exists == 0
    hits = await _keyword(sm, sqlite_settings, scope, inbox_id, "apartment lease")
    assert [h.message_id for h in hits] == [mid]
