"""Reviewing the audit log of the principal's organization: `GET /v1/audit` and the MCP
`audit_review` tool call `review` with the same filters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal
from store import audit
from store.pagination import Page

class AuditQuery(BaseModel):
    """Filters of an audit review; every one optional."""

    model_config = ConfigDict(extra="forbid")
    actor_id: str | None = Field(None, min_length=1, max_length=40,
                                 description="who acted: an API key id (key_…) or user id")  # fmt: skip
    action: str | None = Field(None, min_length=1, max_length=100,
                               description="e.g. inbox.create, message.send, mcp.tool_call")  # fmt: skip
    resource_id: str | None = Field(None, min_length=1, max_length=40,
                                    description="the resource acted on (inbox, message, tool …)")  # fmt: skip
    since: datetime | None = Field(None, description="entries from this time on (no zone: UTC)")
    before: datetime | None = Field(None, description="entries before this time (no zone: UTC)")

    @field_validator("since")
    @classmethod
    def _since(cls, v: datetime | None) -> datetime | None:
        return _aware(v)

    @field_validator("before")
    @classmethod
    def _before(cls, v: datetime | None, info: ValidationInfo) -> datetime | None:
        v, since = _aware(v), info.data.get("since")
        if v is not None and since is not None and since >= v:
            raise ValueError("must be after since")
        return v


def _aware(when: datetime | None) -> datetime | None:
    return when.replace(tzinfo=UTC) if when is not None and when.tzinfo is None else when


class AuditEntryView(BaseModel):
    id: str
    at: datetime
    actor_type: str = Field(description="api_key | user | system")
    actor_id: str | None
    action: str
    resource_type: str | None
    resource_id: str | None
    outcome: str = Field(description="ok | error | denied")
    details: dict[str, Any]


async def review(
    db: AsyncSession, principal: Principal, *, limit: int, after: str | None,
    query: AuditQuery | None = None,
) -> Page[AuditEntryView]:  # fmt: skip
    """Newest first; entries of the principal's organization only."""
    q = query or AuditQuery()
    flt = audit.AuditFilter(actor_id=q.actor_id, action=q.action, resource_id=q.resource_id,
                            since=q.since, before=q.before)  # fmt: skip
    page = await audit.list_entries(db, principal.org_id, limit=limit, after=after, flt=flt)
    items = [
        AuditEntryView(id=e.id, at=e.created_at, actor_type=e.actor_type, actor_id=e.actor_id,
                       action=e.action, resource_type=e.resource_type, resource_id=e.resource_id,
                       outcome=e.outcome, details=e.details or {})
        for e in page.items
    ]  # fmt: skip
    return Page(items=items, next_after=page.next_after)
