"""Recording API actions in the audit log on behalf of the calling principal."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal
from store import audit


def audit_action(
    db: AsyncSession,
    principal: Principal,
    action: str,
    *,
    resource_type: str | None = None,
    resource_id: str | None = None,
    details: dict[str, Any] | None = None,
    outcome: str = "ok",
) -> None:
    audit.record(
        db,
        org_id=principal.org_id,
        actor_type="api_key",
        actor_id=principal.key_id,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        details={"user_id": principal.user_id, **(details or {})},
        outcome=outcome,
    )
