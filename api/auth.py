"""Authentication (API keys) and authorisation (scopes), in one place for every route.

The middleware resolves `Authorization: Bearer <key>` or `X-API-Key: <key>` to a `Principal`
carrying the key's scopes and the `TenantScope` every store query is filtered by. Routes
declare the scope they need with `requires(...)`; nothing else decides access.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from api.errors import ApiError
from contracts import errors
from contracts.scopes import has_scope
from store import api_keys
from store.scope import TenantScope

PUBLIC_PATHS = ["^/health$", "^/docs", "^/llms.txt$", "^/favicon.ico$", "^/v1/attachments/[^/]+/download$"]


@dataclass(frozen=True)
class Principal:
    key_id: str
    user_id: str
    org_id: str
    role: str
    is_superadmin: bool
    scopes: frozenset[str]
    scope: TenantScope

    def can(self, needed: str) -> bool:
        return has_scope(self.scopes, needed)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin" or "admin" in self.scopes


def _presented_key(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    auth = connection.headers.get("authorization")
    if auth:
        kind, _, value = auth.partition(" ")
        if kind.lower() == "bearer" and value.strip():
            return value.strip()
        return None
    key = connection.headers.get("x-api-key")
    return key.strip() if key else None


class ApiKeyMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        secret = _presented_key(connection)
        if not secret or len(secret) > 200:
            raise ApiError(401, errors.UNAUTHORIZED, "missing or invalid API key")
        sessionmaker = connection.app.state.sessionmaker
        async with sessionmaker.begin() as session:
            found = await api_keys.authenticate(session, secret)
        if found is None:
            raise ApiError(401, errors.UNAUTHORIZED, "missing or invalid API key")
        key, user = found
        restricted = user.role != "admin" and "admin" not in key.scopes
        principal = Principal(
            key_id=key.id,
            user_id=user.id,
            org_id=key.org_id,
            role=user.role,
            is_superadmin=user.is_superadmin,
            scopes=frozenset(key.scopes),
            scope=TenantScope(
                org_id=key.org_id,
                department_id=user.department_id,
                restrict_to_department=restricted and user.department_id is not None,
                inbox_ids=frozenset(key.inbox_ids) if key.inbox_ids is not None else None,
            ),
        )
        return AuthenticationResult(user=principal, auth=key.id)


def requires(*any_of: str) -> Any:
    """Guard: the key must hold at least one of these scopes (admin holds them all)."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal: Principal = connection.user
        if not any(principal.can(s) for s in any_of):
            raise ApiError(
                403,
                errors.FORBIDDEN,
                f"this API key lacks the scope {' or '.join(any_of)}",
                [{"field": "scope", "message": f"requires {' or '.join(any_of)}"}],
            )

    return guard


def superadmin_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    principal: Principal = connection.user
    if not principal.is_superadmin or not principal.can("admin"):
        raise ApiError(403, errors.FORBIDDEN, "only a platform superadmin may do this")
