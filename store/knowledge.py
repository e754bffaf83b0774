"""Knowledge-base items (articles and files) of an organization: scoped queries."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.errors import NotFound
from store.models import KnowledgeItem
from store.pagination import Page, paginate
from store.scope import TenantScope


async def get_item(session: AsyncSession, scope: TenantScope, item_id: str, kind: str | None = None) -> KnowledgeItem:
    stmt = select(KnowledgeItem).where(KnowledgeItem.id == item_id, KnowledgeItem.org_id == scope.org_id)
    if kind:
        stmt = stmt.where(KnowledgeItem.kind == kind)
    item = await session.scalar(stmt)
    if item is None:
        raise NotFound(f"{kind or 'knowledge item'} not found", field="id")
    return item


async def list_items(session: AsyncSession, scope: TenantScope, kind: str, *, limit: int,
                     after: str | None) -> Page[KnowledgeItem]:  # fmt: skip
    stmt = select(KnowledgeItem).where(KnowledgeItem.org_id == scope.org_id, KnowledgeItem.kind == kind)
    return await paginate(session, stmt, KnowledgeItem.id, limit=limit, after=after)


async def keyword_candidates(session: AsyncSession, scope: TenantScope, terms: list[str],
                             limit: int = 500) -> list[KnowledgeItem]:  # fmt: skip
    """Items containing any of the terms (the fallback when no embedding model is available)."""
    if not terms:
        return []
    conds = []
    for t in terms:
        needle = f"%{t}%"
        conds += [KnowledgeItem.title.ilike(needle), KnowledgeItem.body.ilike(needle)]
    stmt = (select(KnowledgeItem).where(KnowledgeItem.org_id == scope.org_id, or_(*conds))
            .order_by(KnowledgeItem.id.desc()).limit(limit))  # fmt: skip
    return list(await session.scalars(stmt))
