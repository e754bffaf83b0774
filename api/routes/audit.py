"""The audit log over HTTP: `GET /v1/audit`, newest first, filtered by actor, action, resource
and time; the same service function (api/actions/audit.py) as the MCP `audit_review` tool.
Only the caller's organization's entries; needs `analytics.read`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Controller, get
from litestar.params import Parameter
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from api.actions import audit as audit_actions
from api.actions.audit import AuditEntryView, AuditQuery
from api.auth import Principal, requires
from api.errors import ApiError
from api.pagination import DEFAULT_LIMIT, MAX_LIMIT, ListResponse, decode_cursor, to_list_response
from contracts import errors


def _query(**values: Any) -> AuditQuery:
    try:
        return AuditQuery(**values)
    except ValidationError as exc:
        details = [{"field": ".".join(str(p) for p in e["loc"]) or None, "message": e["msg"]}
                   for e in exc.errors()]  # fmt: skip
        raise ApiError(400, errors.VALIDATION_ERROR, "invalid audit filter", details) from exc


class AuditController(Controller):
    path = "/v1/audit"
    tags = ["audit"]
    guards = [requires("analytics.read")]

    @get("/", summary="The organization's audit log, newest first, with filters")
    async def list_audit(
        self, db: AsyncSession, principal: Principal,
        actor_id: str | None = Parameter(default=None, min_length=1, max_length=40,
                                         description="who acted: an API key id (key_…) or user id"),
        action: str | None = Parameter(default=None, min_length=1, max_length=100,
                                       description="e.g. inbox.create, message.send, mcp.tool_call"),
        resource_id: str | None = Parameter(default=None, min_length=1, max_length=40,
                                            description="the resource acted on"),
        since: datetime | None = Parameter(default=None, description="from this time on (no zone: UTC)"),
        before: datetime | None = Parameter(default=None, description="before this time (no zone: UTC)"),
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
        cursor: str | None = Parameter(default=None, max_length=200),
    ) -> ListResponse[AuditEntryView]:  # fmt: skip
        query = _query(actor_id=actor_id, action=action, resource_id=resource_id,
                       since=since, before=before)  # fmt: skip
        after = decode_cursor(cursor)
        page = await audit_actions.review(db, principal, limit=limit, after=after, query=query)
        return ListResponse[AuditEntryView](**to_list_response(page, lambda e: e))
