"""Per-inbox extraction schemas: scoped reads and writes for the API, unscoped for the worker."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.errors import NotFound
from store.models import ExtractionSchema, Inbox
from store.scope import TenantScope


async def put(session: AsyncSession, inbox: Inbox, *, name: str, description: str,
              schema: dict[str, Any], enabled: bool) -> tuple[ExtractionSchema, bool]:  # fmt: skip
    row = await session.get(ExtractionSchema, inbox.id)
    created = row is None
    if row is None:
        row = ExtractionSchema(inbox_id=inbox.id, org_id=inbox.org_id)
        session.add(row)
    row.name, row.description, row.json_schema, row.enabled = name, description, schema, enabled
    await session.flush()
    await session.refresh(row)
    return row, created


async def get(session: AsyncSession, scope: TenantScope, inbox_id: str) -> ExtractionSchema:
    row = await session.scalar(
        select(ExtractionSchema).where(
            ExtractionSchema.inbox_id == inbox_id, ExtractionSchema.org_id == scope.org_id
        )
    )
    if row is None:
        raise NotFound("this inbox has no extraction schema", field="inbox_id")
    return row


async def remove(session: AsyncSession, scope: TenantScope, inbox_id: str) -> None:
    await session.delete(await get(session, scope, inbox_id))


async def enabled_for_inbox(session: AsyncSession, inbox_id: str) -> ExtractionSchema | None:
    row = await session.get(ExtractionSchema, inbox_id)
    return row if row is not None and row.enabled else None
