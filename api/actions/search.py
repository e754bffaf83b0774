"""Searching mail: the service behind `GET /v1/search/messages|threads` and the MCP
`search_mail` tool. REST-independent: (session, settings, scope, params) → contract models.

Tenant and inbox visibility go into both underlying queries (the Chroma `where` clause and
the SQL WHERE), never applied to their results. Without an embedding model, semantic and
hybrid searches run as keyword searches and say so (`search.effective_mode`).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select

from contracts.messages import AddressView
from contracts.search import (
    MessageHit,
    MessageSearchResponse,
    SearchInfo,
    SearchParams,
    ThreadHit,
    ThreadSearchResponse,
)
from search import hybrid, keyword
from search.embeddings import EmbeddingUnavailable, get_embedder
from search.vector_index import VectorIndex, where_all
from store.errors import Invalid, NotFound
from store.models import Attachment, Inbox, Message, SearchDocument, Thread

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from settings import Settings
    from store.scope import TenantScope

MAX_CANDIDATES = 400


@dataclass
class _Candidate:
    message_id: str
    score: float
    source_type: str
    attachment_id: str | None
    text: str


async def inbox_ids_for(session: AsyncSession, scope: TenantScope, params: SearchParams) -> list[str]:
    """The inboxes searched: the one asked for, or the domain's that this key may see."""
    if bool(params.inbox_id) == bool(params.domain_id):
        raise Invalid("give exactly one of inbox_id and domain_id", field="inbox_id")
    stmt = select(Inbox.id).where(scope.inbox_filter())
    if params.inbox_id:
        ids = list(await session.scalars(stmt.where(Inbox.id == params.inbox_id)))
        if not ids:
            raise NotFound("inbox not found", field="inbox_id")
        return ids
    ids = list(await session.scalars(stmt.where(Inbox.domain_id == params.domain_id)))
    if not ids:
        from store.models import Domain

        domain = await session.scalar(select(Domain.id).where(
            Domain.id == params.domain_id, or_(Domain.org_id == scope.org_id, Domain.org_id.is_(None))
        ))  # fmt: skip
        if domain is None:
            raise NotFound("domain not found", field="domain_id")
    return ids


def _from_kind(value: str | None) -> tuple[str, str] | None:
    """How a `from` filter can go into Chroma: an exact address or a domain; else None."""
    if not value:
        return None
    v = value.strip().lower()
    if "@" in v and not v.startswith("@"):
        return ("from_address", v)
    if " " not in v and "." in v:
        return ("from_domain", v.lstrip("@"))
    return None


def _vector_where(p: SearchParams) -> dict[str, Any] | None:
    """The request's filters. Tenant and inbox are not here: they pick the partitions."""
    clauses: list[dict[str, Any] | None] = []
    if p.since:
        clauses.append({"received_at": {"$gte": p.since.timestamp()}})
    if p.before:
        clauses.append({"received_at": {"$lt": p.before.timestamp()}})
    if p.category:
        clauses.append({"category": p.category})
    if p.has_attachment is not None:
        clauses.append({"has_attachment": p.has_attachment})
    sender = _from_kind(p.from_)
    if sender:
        clauses.append({sender[0]: sender[1]})
    return where_all(*clauses)


def _sql_conditions(scope: TenantScope, inbox_ids: list[str], p: SearchParams) -> list[Any]:
    d, m = keyword.DOC, keyword.MSG
    conds: list[Any] = [d.c.org_id == scope.org_id, d.c.inbox_id.in_(inbox_ids),
                        m.c.org_id == scope.org_id]  # fmt: skip
    if p.since:
        conds.append(m.c.received_at >= p.since)
    if p.before:
        conds.append(m.c.received_at < p.before)
    if p.category:
        conds.append(m.c.category == p.category)
    if p.has_attachment is not None:
        conds.append(m.c.has_attachments.is_(p.has_attachment))
    if p.from_:
        sender = _from_kind(p.from_)
        if sender and sender[0] == "from_address":
            conds.append(m.c.from_address.ilike(sender[1]))
        elif sender:
            conds.append(m.c.from_address.ilike(f"%@{sender[1]}"))
        else:
            needle = f"%{p.from_.replace('%', '').replace('_', '')}%"
            conds.append(or_(m.c.from_name.ilike(needle), m.c.from_address.ilike(needle)))
    return conds


async def _keyword(session: AsyncSession, scope: TenantScope, inbox_ids: list[str],
                   p: SearchParams, n: int) -> list[_Candidate]:  # fmt: skip
    hits = await keyword.search(session, p.q, conditions=_sql_conditions(scope, inbox_ids, p), limit=n)
    if not hits:
        return []
    rows = {
        r.id: r for r in await session.execute(
            select(SearchDocument.id, SearchDocument.message_id, SearchDocument.source_type,
                   SearchDocument.attachment_id, SearchDocument.body, SearchDocument.title)
            .where(SearchDocument.id.in_([h.doc_id for h in hits]))
        )
    }  # fmt: skip
    best: dict[str, _Candidate] = {}
    for h in hits:
        r = rows.get(h.doc_id)
        if r is None or r.message_id in best:
            continue
        best[r.message_id] = _Candidate(r.message_id, h.score, r.source_type, r.attachment_id, r.body or r.title)
    return list(best.values())


def _semantic_sync(settings: Settings, inbox_ids: list[str], p: SearchParams, n: int) -> list[_Candidate]:
    embedder = get_embedder(settings)
    vector = embedder.embed([p.q])[0]
    index = VectorIndex(settings, "mail", embedder.name)
    where = _vector_where(p)
    # inbox_ids come from the tenant-scoped SQL lookup: only visible inboxes' vectors are read.
    hits = sorted((h for inbox_id in inbox_ids for h in index.query(inbox_id, vector, where, n)),
                  key=lambda h: -h.score)  # fmt: skip
    best: dict[str, _Candidate] = {}
    for h in hits:
        mid = str(h.metadata.get("message_id", ""))
        if not mid or mid in best:
            continue
        text = h.document.split("\n", 1)[1] if "\n" in h.document else h.document
        best[mid] = _Candidate(mid, h.score, str(h.metadata.get("source_type") or "message"),
                               str(h.metadata.get("attachment_id") or "") or None, text)  # fmt: skip
    return list(best.values())


async def ranked_candidates(
    session: AsyncSession, settings: Settings, scope: TenantScope, params: SearchParams,
    n: int, fusion: hybrid.Fusion = hybrid.DEFAULT_FUSION,
) -> tuple[list[tuple[_Candidate, float]], SearchInfo]:  # fmt: skip
    """Best-first (candidate, 0–1 score) per message, and what ran."""
    started = time.perf_counter()
    inbox_ids = await inbox_ids_for(session, scope, params)
    effective = params.mode
    reason = None
    kw: list[_Candidate] = []
    sem: list[_Candidate] = []
    if inbox_ids and params.mode in ("semantic", "hybrid"):
        # The vector query runs in a thread while the keyword query runs on the database.
        semantic = asyncio.ensure_future(asyncio.to_thread(_semantic_sync, settings, inbox_ids, params, n))
        if params.mode == "hybrid":
            kw = await _keyword(session, scope, inbox_ids, params, n)
        try:
            sem = await semantic
        except EmbeddingUnavailable as exc:
            effective, reason = "keyword", f"no embedding model: {exc}"
            if params.mode == "semantic":
                kw = await _keyword(session, scope, inbox_ids, params, n)
    elif inbox_ids:
        kw = await _keyword(session, scope, inbox_ids, params, n)
    if effective == "hybrid":
        by_id = {c.message_id: c for c in kw}
        by_id.update({c.message_id: c for c in sem})  # a semantic chunk makes the better snippet
        fused = hybrid.fuse([(c.message_id, c.score) for c in kw],
                            [(c.message_id, c.score) for c in sem], fusion,
                            semantic_weight=hybrid.SEMANTIC_WEIGHT)  # fmt: skip
        ranked = [(by_id[k], s) for k, s in fused]
    else:
        ranked = [(c, c.score) for c in (kw if effective == "keyword" else sem)]
        ranked.sort(key=lambda cs: -cs[1])
    info = SearchInfo(mode=params.mode, effective_mode=effective, fallback_reason=reason,
                      took_ms=round((time.perf_counter() - started) * 1000, 1))  # fmt: skip
    return ranked, info


async def _hits(session: AsyncSession, scope: TenantScope, params: SearchParams,
                ranked: list[tuple[_Candidate, float]], search_type: str, limit: int) -> list[MessageHit]:  # fmt: skip
    ids = [c.message_id for c, _ in ranked]
    if not ids:
        return []
    msgs = {m.id: m for m in await session.scalars(select(Message).where(
        Message.id.in_(ids), scope.owns_inbox_column(Message.org_id, Message.inbox_id)))}  # fmt: skip
    att_ids = [c.attachment_id for c, _ in ranked if c.attachment_id]
    names = dict((await session.execute(
        select(Attachment.id, Attachment.filename).where(Attachment.id.in_(att_ids))
    )).all()) if att_ids else {}  # fmt: skip
    needle = (params.from_ or "").lower() if params.from_ and not _from_kind(params.from_) else ""
    out: list[MessageHit] = []
    for cand, score in ranked:
        m = msgs.get(cand.message_id)
        if m is None:  # deleted since it was indexed
            continue
        if needle and needle not in f"{m.from_name} {m.from_address}".lower():
            continue
        plain, marked = hybrid.snippet(cand.text or m.snippet, params.q)
        out.append(MessageHit(
            message_id=m.id, thread_id=m.thread_id, inbox_id=m.inbox_id, subject=m.subject,
            from_=AddressView(name=m.from_name, email=m.from_address), direction=m.direction,
            received_at=m.received_at, score=round(score, 4), search_type=search_type,  # type: ignore[arg-type]
            source_type=cand.source_type if cand.source_type == "attachment" else "message",  # type: ignore[arg-type]
            attachment_id=cand.attachment_id if cand.source_type == "attachment" else None,
            attachment_filename=names.get(cand.attachment_id) if cand.attachment_id else None,
            snippet=plain, highlight=marked,
        ))  # fmt: skip
        if len(out) >= limit:
            break
    return out


async def search_messages(
    session: AsyncSession, settings: Settings, scope: TenantScope, params: SearchParams,
    fusion: hybrid.Fusion = hybrid.DEFAULT_FUSION,
) -> MessageSearchResponse:  # fmt: skip
    started = time.perf_counter()
    n = min(MAX_CANDIDATES, params.limit * 4 + 20)
    ranked, info = await ranked_candidates(session, settings, scope, params, n, fusion)
    hits = await _hits(session, scope, params, ranked, info.effective_mode, params.limit)
    info.took_ms = round((time.perf_counter() - started) * 1000, 1)
    return MessageSearchResponse(data=hits, search=info)


async def search_threads(
    session: AsyncSession, settings: Settings, scope: TenantScope, params: SearchParams
) -> ThreadSearchResponse:
    started = time.perf_counter()
    n = min(MAX_CANDIDATES, params.limit * 10 + 20)
    ranked, info = await ranked_candidates(session, settings, scope, params, n)
    hits = await _hits(session, scope, params, ranked, info.effective_mode, n)
    groups: dict[str, list[MessageHit]] = {}
    for h in hits:
        if h.thread_id:
            groups.setdefault(h.thread_id, []).append(h)
    order = list(groups)[: params.limit]
    threads = {t.id: t for t in await session.scalars(select(Thread).where(
        Thread.id.in_(order), scope.owns_inbox_column(Thread.org_id, Thread.inbox_id)))}  # fmt: skip
    data = [
        ThreadHit(
            thread_id=t.id, inbox_id=t.inbox_id, subject=t.subject, message_count=t.message_count,
            last_message_at=t.last_message_at, score=groups[tid][0].score,
            search_type=groups[tid][0].search_type, matches=groups[tid][:3],
        )  # fmt: skip
        for tid in order
        if (t := threads.get(tid)) is not None
    ]
    info.took_ms = round((time.perf_counter() - started) * 1000, 1)
    return ThreadSearchResponse(data=data, search=info)
