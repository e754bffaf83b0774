"""Search over mail: `GET /v1/search/messages` and `GET /v1/search/threads` (scope mail.read).

Query parameters are validated into `contracts.search.SearchParams` here so that bad input
answers 422 naming the parameter (an empty or 10 000-character `q` included)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Controller, get
from litestar.di import Provide
from litestar.datastructures import State
from litestar.params import Parameter, QueryParameter
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from api.actions import search as search_actions
from api.auth import Principal, requires
from api.errors import ApiError
from contracts import errors
from contracts.search import MessageSearchResponse, SearchParams, ThreadSearchResponse


def params_or_422(**raw: Any) -> SearchParams:
    """SearchParams, or 422 with one detail per bad field (shared with MCP-style callers)."""
    try:
        return SearchParams.model_validate({k: v for k, v in raw.items() if v is not None})
    except ValidationError as exc:
        details = [{"field": ".".join(str(p) for p in e["loc"]) or None, "message": e["msg"]}
                   for e in exc.errors()]  # fmt: skip
        raise ApiError(422, errors.VALIDATION_ERROR, "invalid search parameters", details) from exc


async def provide_search_params(
    q: str | None = Parameter(default=None, description="what to look for (1–1000 chars)"),
    inbox_id: str | None = Parameter(default=None, max_length=64),
    domain_id: str | None = Parameter(default=None, max_length=64),
    mode: str | None = Parameter(default=None, description="hybrid (default), semantic or keyword"),
    limit: str | None = Parameter(default=None, description="1–100, default 10"),
    from_: str | None = QueryParameter(name="from", default=None, description="address, domain or name"),
    since: datetime | None = None,
    before: datetime | None = None,
    category: str | None = None,
    has_attachment: bool | None = None,
) -> SearchParams:  # fmt: skip
    """The query parameters both search routes take, validated once (422 naming the field)."""
    if q is None:
        raise ApiError(422, errors.VALIDATION_ERROR, "q is required",
                       [{"field": "q", "message": "q is required"}])  # fmt: skip
    return params_or_422(q=q.strip(), inbox_id=inbox_id, domain_id=domain_id, mode=mode,
                         limit=limit, **{"from": from_}, since=since, before=before,
                         category=category, has_attachment=has_attachment)  # fmt: skip


class SearchController(Controller):
    path = "/v1/search"
    tags = ["search"]
    guards = [requires("mail.read")]
    dependencies = {"params": Provide(provide_search_params)}

    @get("/messages", summary="Search messages and attachments (hybrid, semantic or keyword)")
    async def messages(
        self, db: AsyncSession, principal: Principal, state: State, params: SearchParams
    ) -> MessageSearchResponse:
        return await search_actions.search_messages(db, state.settings, principal.scope, params)

    @get("/threads", summary="Search threads: messages grouped by conversation")
    async def threads(
        self, db: AsyncSession, principal: Principal, state: State, params: SearchParams
    ) -> ThreadSearchResponse:
        return await search_actions.search_threads(db, state.settings, principal.scope, params)
