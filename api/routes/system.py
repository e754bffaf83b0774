"""Health, the principal's view of the API, and capabilities (scopes and limits)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.datastructures import State
from litestar.response import Response
from sqlalchemy import text

from api.auth import Principal
from api.pagination import MAX_LIMIT
from api.routes.discovery import agent_capabilities
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
        "sending": {
            "max_schedule_days": settings.outbound_max_schedule_days,
            "max_recipients_per_send": settings.outbound_max_recipients,
            "max_attachment_bytes": settings.outbound_max_attachment_bytes,
            "retry_hours": settings.outbound_retry_hours,
            "idempotency": "Idempotency-Key header; kept as long as the message exists",
            # Server defaults, counted in recipients (0: no limit); an organization or inbox may
            # override them with settings.send_limits.
            "rate_limits": {
                "unit": "recipients",
                "inbox_hourly": settings.send_limit_hourly,
                "inbox_daily": settings.send_limit_daily,
                "org_hourly": settings.org_send_limit_hourly,
                "org_daily": settings.org_send_limit_daily,
                "windows": "fixed hours and UTC days; 0 means no limit; settings.send_limits "
                           "({hourly, daily}) on the org or inbox overrides these defaults",
                "headers": "every send answers X-RateLimit-Limit/Remaining/Reset; 429 with "
                           "Retry-After when a window is full",
            },
        },
        **agent_capabilities(settings),
    }
