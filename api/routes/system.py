"""Health, the principal's view of the API, and capabilities (scopes and limits)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.datastructures import State
from litestar.response import Response
from sqlalchemy import text

from api.auth import Principal
from api.pagination import MAX_LIMIT
from contracts.scopes import SCOPES
from settings import Settings

SURFACE = [
    "/v1/org",
    "/v1/orgs",
    "/v1/api-keys",
    "/v1/inboxes",
    "/v1/inboxes/{inbox_id}/messages",
    "/v1/messages/{message_id}",
    "/v1/capabilities",
]


@get("/health", exclude_from_auth=True, tags=["system"], summary="Liveness of DB and Temporal")
async def health(state: State) -> Response[dict[str, Any]]:
    db_ok = True
    try:
        async with state.sessionmaker() as session:
            await session.execute(text("SELECT 1"))
    except Exception:
        db_ok = False
    temporal_ok = await state.temporal.healthy()
    ok = db_ok and temporal_ok
    body = {
        "status": "ok" if ok else "degraded",
        "database": "ok" if db_ok else "unavailable",
        "temporal": "ok" if temporal_ok else "unavailable",
    }
    return Response(body, status_code=200 if ok else 503)


@get("/v1", tags=["system"], summary="Who am I, and what can I call")
async def root(request: Request[Principal, Any, Any]) -> dict[str, Any]:
    p = request.user
    return {
        "principal": {
            "org_id": p.org_id,
            "user_id": p.user_id,
            "api_key_id": p.key_id,
            "role": p.role,
            "is_superadmin": p.is_superadmin,
            "scopes": sorted(p.scopes),
        },
        "surface": SURFACE,
        "docs": "/docs",
        "openapi": "/docs/openapi.json",
    }


@get("/v1/capabilities", tags=["system"], summary="Scopes, limits and features")
async def capabilities(state: State) -> dict[str, Any]:
    settings: Settings = state.settings
    return {
        "scopes": [{"name": k, "description": v} for k, v in SCOPES.items()],
        "limits": {
            "max_message_bytes": settings.max_message_bytes,
            "max_recipients_per_message": settings.max_recipients,
            "max_page_size": MAX_LIMIT,
        },
        "smtp": {"host": settings.smtp_host, "port": settings.smtp_port},
        "default_domain": settings.default_domain,
        "outbound_transport": settings.outbound_transport,
    }
