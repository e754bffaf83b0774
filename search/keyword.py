"""The keyword index in the database: PostgreSQL full-text search (a stored tsvector column
with a GIN index) or SQLite FTS5 (a virtual table mirrored from `search_documents` by triggers).

Queries are OR-ed word terms ranked by the database (ts_rank_cd / bm25), so a paraphrase
that shares only some words still finds the message; scores are squashed into 0–1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, column, func, literal_column, select, table, text
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Message, SearchDocument

MAX_TERMS = 32
_WORD = re.compile(r"[^\W_]+", re.UNICODE)

_FTS_DDL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5("
    "title, body, doc_id UNINDEXED, tokenize='porter unicode61')",
    "CREATE TRIGGER IF NOT EXISTS search_fts_ai AFTER INSERT ON search_documents BEGIN "
    "INSERT INTO search_fts(title, body, doc_id) VALUES (new.title, new.body, new.id); END",
    "CREATE TRIGGER IF NOT EXISTS search_fts_ad AFTER DELETE ON search_documents BEGIN "
    "DELETE FROM search_fts WHERE doc_id = old.id; END",
)
_fts_ready: set[str] = set()


# PostgreSQL's english configuration drops these; FTS5 does not, and an OR over "the" or "my"
# matches (and ranks) nearly every row. Dropped for both, so the two dialects agree.
STOPWORDS = frozenset(
    "a about above after again all am an and any are as at be been before being below between"
    " both but by can could did do does doing down during each few for from further had has"
    " have having he her here hers him his how i if in into is it its itself just me more most"
    " my no nor not now of off on once only or other our ours out over own same she should so"
    " some such than that the their them then there these they this those through to too under"
    " until up very was we were what when where which while who whom why will with would you"
    " your yours".split()
)


def terms_of(query: str) -> list[str]:
    seen: dict[str, None] = {}
    for word in _WORD.findall(query.lower()):
        if word not in STOPWORDS:
            seen.setdefault(word[:64], None)
    return list(seen)[:MAX_TERMS]


async def ensure_ready(session: AsyncSession) -> None:
    """Create SQLite's FTS5 table and triggers once per database (PostgreSQL: migration)."""
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return
    key = str(bind.url)
    if key in _fts_ready:
        return
    for ddl in _FTS_DDL:
        await session.execute(text(ddl))
    # Rows written before the table existed (e.g. a restored database): copy them once.
    await session.execute(text(
        "INSERT INTO search_fts(title, body, doc_id) SELECT d.title, d.body, d.id "
        "FROM search_documents d WHERE d.id NOT IN (SELECT doc_id FROM search_fts)"
    ))  # fmt: skip
    _fts_ready.add(key)


@dataclass(frozen=True)
class KeywordHit:
    doc_id: str
    score: float  # 0–1


# The aliases keyword queries use; callers build their tenant/inbox/filter conditions on them.
DOC = SearchDocument.__table__.alias("d")
MSG = Message.__table__.alias("m")


async def search(
    session: AsyncSession, query: str, *, conditions: list[Any], limit: int
) -> list[KeywordHit]:
    """Rank `search_documents` rows (DOC, joined to their message MSG) matching any query
    term and every condition (tenant, inboxes, filters: inside the query, never after)."""
    terms = terms_of(query)
    if not terms:
        return []
    source = DOC.join(MSG, MSG.c.id == DOC.c.message_id)
    if session.get_bind().dialect.name == "postgresql":
        # The stored, GIN-indexed vector: matching uses the index and ranking reads the vector
        # instead of parsing each matching text again (to_tsvector was ~80% of a query's time).
        tsv = DOC.c.tsv
        # Each term is a bare word (letters/digits only) joined with |: to_tsquery cannot fail.
        tsq = func.to_tsquery(literal_column("'english'::regconfig"), bindparam("tsq", " | ".join(terms)))
        rank = func.ts_rank_cd(tsv, tsq, 32)
        stmt = (
            select(DOC.c.id, rank.label("rank")).select_from(source)
            .where(tsv.op("@@")(tsq), *conditions)
            .order_by(rank.desc(), DOC.c.id).limit(limit)
        )  # fmt: skip
        rows = await session.execute(stmt)
        # ts_rank_cd with normalization 32 is rank/(rank+1) already: 0–1.
        return [KeywordHit(r[0], _squash_pg(float(r[1]))) for r in rows]
    await ensure_ready(session)
    fts = table("search_fts", column("doc_id"))
    rank = literal_column("bm25(search_fts, 2.0, 1.0)")
    stmt = (
        select(DOC.c.id, rank.label("rank")).select_from(fts.join(source, DOC.c.id == fts.c.doc_id))
        .where(text("search_fts MATCH :match"), *conditions).order_by(rank).limit(limit)
    ).params(match=" OR ".join(f'"{t}"' for t in terms))  # fmt: skip
    rows = await session.execute(stmt)
    # bm25 is negative, more negative = better; squash |bm25| into 0–1.
    return [KeywordHit(r[0], _squash_bm25(-float(r[1]))) for r in rows]


def _squash_pg(rank: float) -> float:
    return max(0.0, min(1.0, rank * 4))  # rank/(rank+1) rarely exceeds 0.25 for mail-sized text


def _squash_bm25(score: float) -> float:
    return max(0.0, min(1.0, score / (score + 5.0)))
