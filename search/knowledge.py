"""Knowledge base indexing and search: items chunked into a per-organization Chroma
collection (`kb_<org>_<model>`), separate from mail. Synchronous parts run in threads."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from contracts.search import KnowledgeHit, KnowledgeSearchResponse, SearchInfo
from search import hybrid
from search.chunking import chunk_text
from search.embeddings import EmbeddingUnavailable, get_embedder
from search.keyword import terms_of
from search.vector_index import VectorIndex, where_all

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from settings import Settings
    from store.models import KnowledgeItem
    from store.scope import TenantScope


def _index_sync(settings: Settings, org_id: str, item_id: str, kind: str, title: str, body: str) -> int:
    embedder = get_embedder(settings)
    index = VectorIndex(settings, "kb", embedder.name)
    index.delete(org_id, {"item_id": item_id})
    chunks = [f"{title}\n{c}" for c in chunk_text(body)] or [title]
    meta = [{"org_id": org_id, "item_id": item_id, "kind": kind, "chunk": i} for i in range(len(chunks))]
    index.upsert(org_id, [f"{item_id}:{i}" for i in range(len(chunks))], embedder.embed(chunks), chunks, meta)
    return len(chunks)


async def index_item(settings: Settings, item: KnowledgeItem) -> int:
    """(Re)index an item's chunks; 0 when no embedding model is available (keyword search)."""
    try:
        return await asyncio.to_thread(_index_sync, settings, item.org_id, item.id, item.kind,
                                       item.title, item.body)  # fmt: skip
    except EmbeddingUnavailable:
        return 0


def _drop_sync(settings: Settings, org_id: str, item_id: str) -> None:
    try:
        embedder = get_embedder(settings)
    except EmbeddingUnavailable:
        return
    VectorIndex(settings, "kb", embedder.name).delete(org_id, {"item_id": item_id})


async def drop_item(settings: Settings, org_id: str, item_id: str) -> None:
    await asyncio.to_thread(_drop_sync, settings, org_id, item_id)


def _semantic_sync(settings: Settings, org_id: str, q: str, n: int) -> list[tuple[str, float, str]]:
    embedder = get_embedder(settings)
    index = VectorIndex(settings, "kb", embedder.name)
    hits = index.query(org_id, embedder.embed([q])[0], where_all({"org_id": org_id}), n)
    best: dict[str, tuple[str, float, str]] = {}
    for h in hits:
        item_id = str(h.metadata.get("item_id"))
        if item_id not in best:
            text = h.document.split("\n", 1)[1] if "\n" in h.document else h.document
            best[item_id] = (item_id, h.score, text)
    return list(best.values())


async def search(session: AsyncSession, settings: Settings, scope: TenantScope, q: str,
                 limit: int) -> KnowledgeSearchResponse:  # fmt: skip
    import time

    from sqlalchemy import select

    from store import knowledge
    from store.models import KnowledgeItem

    started = time.perf_counter()
    reason = None
    try:
        found = await asyncio.to_thread(_semantic_sync, settings, scope.org_id, q, limit * 3 + 10)
        mode = "semantic"
    except EmbeddingUnavailable as exc:
        reason, mode = f"no embedding model: {exc}", "keyword"
        terms = terms_of(q)
        scored = []
        for item in await knowledge.keyword_candidates(session, scope, terms):
            hay = f"{item.title} {item.body}".lower()
            matched = sum(1 for t in terms if t in hay)
            scored.append((item.id, matched / max(1, len(terms)), item.body))
        found = sorted(scored, key=lambda s: -s[1])
    ids = [f[0] for f in found]
    items = {i.id: i for i in await session.scalars(
        select(KnowledgeItem).where(KnowledgeItem.id.in_(ids), KnowledgeItem.org_id == scope.org_id))}  # fmt: skip
    hits = []
    for item_id, score, text in found:
        item = items.get(item_id)
        if item is None:
            continue
        plain, marked = hybrid.snippet(text or item.body, q)
        hits.append(KnowledgeHit(item_id=item.id, kind=item.kind, title=item.title,  # type: ignore[arg-type]
                                 score=round(score, 4), search_type=mode, snippet=plain, highlight=marked))  # type: ignore[arg-type]
        if len(hits) >= limit:
            break
    info = SearchInfo(mode="semantic", effective_mode=mode, fallback_reason=reason,  # type: ignore[arg-type]
                      took_ms=round((time.perf_counter() - started) * 1000, 1))
    return KnowledgeSearchResponse(data=hits, search=info)
