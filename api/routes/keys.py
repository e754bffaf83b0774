"""API keys: list, create (secret shown once in `api_key`), rotate, revoke."""

from __future__ import annotations

from datetime import datetime, timedelta

from litestar import Controller, delete, get, post
from litestar.params import Parameter
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import audit_action
from api.auth import Principal, requires
from api.errors import ApiError
from api.pagination import DEFAULT_LIMIT, MAX_LIMIT, ListResponse, decode_cursor, to_list_response
from contracts import errors
from contracts.scopes import unknown_scopes
from store import api_keys, inboxes
from store.base import utcnow
from store.models import ApiKey, User


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field("", max_length=200)
    scopes: list[str] = Field(min_length=1, max_length=32)
    expires_in_days: int | None = Field(None, ge=1, le=3650)
    inbox_ids: list[str] | None = Field(None, max_length=1000)
    requires_approval: bool = Field(
        False, description="Every send composed with this key waits in awaiting_approval until "
        "another key or user with mail.approve approves it.",
    )  # fmt: skip

    @field_validator("scopes")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        if bad := unknown_scopes(v):
            raise ValueError(f"unknown scopes: {', '.join(bad)}")
        return v


class ApiKeyOut(BaseModel):
    id: str
    name: str
    prefix: str
    scopes: list[str]
    inbox_ids: list[str] | None
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime
    revoked: bool
    requires_approval: bool = False

    @classmethod
    def of(cls, k: ApiKey) -> ApiKeyOut:
        return cls(
            id=k.id, name=k.name, prefix=k.prefix, scopes=k.scopes, inbox_ids=k.inbox_ids,
            expires_at=k.expires_at, revoked_at=k.revoked_at, last_used_at=k.last_used_at,
            created_at=k.created_at, revoked=k.revoked_at is not None,
            requires_approval=bool(k.requires_approval),
        )  # fmt: skip


class ApiKeyCreated(ApiKeyOut):
    api_key: str = Field(description="The secret. Shown once; only its hash is stored.")


def _owner_filter(principal: Principal) -> str | None:
    """Admins manage every key of the org; others only their own user's keys."""
    return None if principal.is_admin else principal.user_id


class ApiKeyController(Controller):
    path = "/v1/api-keys"
    tags = ["api keys"]
    guards = [requires("keys.manage")]

    @get("/", summary="List API keys")
    async def list_keys(
        self,
        db: AsyncSession,
        principal: Principal,
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
        cursor: str | None = Parameter(default=None, max_length=200),
    ) -> ListResponse[ApiKeyOut]:
        page = await api_keys.list_keys(
            db, principal.org_id, user_id=_owner_filter(principal), limit=limit,
            after=decode_cursor(cursor),
        )  # fmt: skip
        return ListResponse[ApiKeyOut](**to_list_response(page, ApiKeyOut.of))

    @post("/", summary="Create an API key (its scopes must be a subset of the caller's)")
    async def create(self, data: ApiKeyCreate, db: AsyncSession, principal: Principal) -> ApiKeyCreated:
        beyond = [s for s in data.scopes if not principal.can(s)]
        if beyond:
            raise ApiError(
                403, errors.FORBIDDEN, "cannot grant scopes the caller does not hold",
                [{"field": "scopes", "message": f"not held: {', '.join(beyond)}"}],
            )  # fmt: skip
        for inbox_id in data.inbox_ids or []:
            await inboxes.get_inbox(db, principal.scope, inbox_id)  # 404 names inbox_id
        user = await db.get(User, principal.user_id)
        assert user is not None
        expires = utcnow() + timedelta(days=data.expires_in_days) if data.expires_in_days else None
        # A key whose sends need approval cannot mint one whose sends do not.
        caller = await db.get(ApiKey, principal.key_id)
        requires_approval = data.requires_approval or bool(caller and caller.requires_approval)
        key, secret = await api_keys.create_key(
            db, org_id=principal.org_id, user=user, name=data.name, scopes=data.scopes,
            expires_at=expires, inbox_ids=data.inbox_ids, requires_approval=requires_approval,
        )  # fmt: skip
        audit_action(db, principal, "api_key.create", resource_type="api_key", resource_id=key.id)
        return ApiKeyCreated(**ApiKeyOut.of(key).model_dump(), api_key=secret)

    async def _owned(self, db: AsyncSession, principal: Principal, key_id: str) -> ApiKey:
        key = await api_keys.get_key(db, principal.org_id, key_id)
        owner = _owner_filter(principal)
        if owner is not None and key.user_id != owner:
            raise ApiError(404, errors.NOT_FOUND, "API key not found")
        return key

    @post("/{key_id:str}/rotate", summary="Rotate: a new secret, the old key revoked at once")
    async def rotate(self, key_id: str, db: AsyncSession, principal: Principal) -> ApiKeyCreated:
        key = await self._owned(db, principal, key_id)
        if key.revoked_at is not None:
            raise ApiError(409, errors.CONFLICT, "API key is revoked")
        new_key, secret = await api_keys.rotate_key(db, key)
        audit_action(db, principal, "api_key.rotate", resource_type="api_key", resource_id=key.id,
                     details={"new_key_id": new_key.id})  # fmt: skip
        return ApiKeyCreated(**ApiKeyOut.of(new_key).model_dump(), api_key=secret)

    @delete("/{key_id:str}", status_code=200, summary="Revoke (effective on the next request)")
    async def revoke(self, key_id: str, db: AsyncSession, principal: Principal) -> ApiKeyOut:
        key = await api_keys.revoke_key(db, await self._owned(db, principal, key_id))
        audit_action(db, principal, "api_key.revoke", resource_type="api_key", resource_id=key.id)
        return ApiKeyOut.of(key)
