"""Allow and block lists (`/v1/access-lists`) for sending and receiving, at organization
(`scope: org`) or inbox (`scope: inbox`, with `inbox_id`) scope; values are addresses or
domains (a domain also covers its subdomains). How a recipient or sender is decided is in
store/access_lists.py: the inbox's entries first, then the organization's; an allow list at a
scope means only listed addresses there. Sends are checked in the one send path
(outbound.policy), mail is received or refused `550 5.7.1` at SMTP RCPT (the ingress).

Scopes: reading `delivery.manage`, `mail.send` or `analytics.read`; changing `delivery.manage`.
Org-wide entries can be changed only by a key that sees every inbox.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from litestar import Controller, delete, get, post
from litestar.params import Parameter, QueryParameter
from pydantic import BaseModel, Field, field_validator, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import audit_action
from api.auth import Principal, requires
from api.errors import ApiError
from api.pagination import DEFAULT_LIMIT, MAX_LIMIT, ListResponse, decode_cursor, to_list_response
from contracts import errors
from store import access_lists, inboxes
from store.models import AccessListEntry

_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")
_LOCAL_RE = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")


def _checked_value(value: str) -> str:
    value = value.strip().lower()
    local, at, domain = value.rpartition("@")
    if not _DOMAIN_RE.fullmatch(domain):
        raise ValueError("must be an email address or a domain name (e.g. example.com)")
    if at and not _LOCAL_RE.fullmatch(local):
        raise ValueError("not a valid email address")
    return value


class AccessListIn(BaseModel):
    scope: Literal["org", "inbox"] = "org"
    inbox_id: str | None = Field(None, max_length=40)
    direction: Literal["send", "receive"]
    kind: Literal["allow", "block"]
    value: str = Field(max_length=320, description="An address or a domain")
    note: str = Field("", max_length=500)

    _value = field_validator("value")(classmethod(lambda cls, v: _checked_value(v)))

    @model_validator(mode="after")
    def _scope(self) -> AccessListIn:
        if self.scope == "inbox" and not self.inbox_id:
            raise ValueError("inbox_id is required when scope is inbox")
        if self.scope == "org" and self.inbox_id:
            raise ValueError("inbox_id is only allowed when scope is inbox")
        return self


class AccessListOut(BaseModel):
    id: str
    scope: str
    inbox_id: str | None
    direction: str
    kind: str
    value: str
    value_type: str
    note: str
    created_at: datetime

    @classmethod
    def of(cls, e: AccessListEntry) -> AccessListOut:
        return cls(id=e.id, scope="inbox" if e.inbox_id else "org", inbox_id=e.inbox_id,
                   direction=e.direction, kind=e.kind, value=e.value, value_type=e.value_type,
                   note=e.note, created_at=e.created_at)  # fmt: skip


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(400, errors.VALIDATION_ERROR, message, [{"field": field, "message": message}])


def _check_org_write(principal: Principal) -> None:
    if not principal.scope.sees_all_inboxes:
        raise ApiError(403, errors.FORBIDDEN, "this API key sees only some inboxes: it may change "
                       "inbox lists only", [{"field": "scope", "message": "org scope needs a key "
                                             "that sees every inbox"}])  # fmt: skip


class AccessListController(Controller):
    path = "/v1/access-lists"
    tags = ["delivery"]

    @post("/", guards=[requires("delivery.manage")], summary="Add an allow or block entry")
    async def create(
        self, data: AccessListIn, db: AsyncSession, principal: Principal
    ) -> AccessListOut:
        inbox_id = None
        if data.scope == "inbox":
            inbox_id = (await inboxes.get_inbox(db, principal.scope, data.inbox_id or "")).id
        else:
            _check_org_write(principal)
        entry = await access_lists.create(
            db, principal.scope, inbox_id=inbox_id, direction=data.direction, kind=data.kind,
            value=data.value, note=data.note,
        )  # fmt: skip
        audit_action(db, principal, "access_list.create", resource_type="access_list",
                     resource_id=entry.id, details={"value": entry.value, "kind": entry.kind,
                                                    "direction": entry.direction})  # fmt: skip
        return AccessListOut.of(entry)

    @get("/", guards=[requires("delivery.manage", "mail.send", "analytics.read")],
         summary="List entries (filters scope, inbox_id, direction, kind, value)")  # fmt: skip
    async def list_entries(
        self, db: AsyncSession, principal: Principal,
        # `scope` is a reserved handler kwarg in Litestar (the ASGI scope): aliased.
        level: str | None = QueryParameter(name="scope", default=None, max_length=10),
        inbox_id: str | None = Parameter(default=None, max_length=40),
        direction: str | None = Parameter(default=None, max_length=10),
        kind: str | None = Parameter(default=None, max_length=10),
        value: str | None = Parameter(default=None, max_length=320),
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
        cursor: str | None = Parameter(default=None, max_length=200),
    ) -> ListResponse[AccessListOut]:  # fmt: skip
        for field, given, allowed in (("scope", level, ("org", "inbox")),
                                      ("direction", direction, ("send", "receive")),
                                      ("kind", kind, ("allow", "block"))):  # fmt: skip
            if given is not None and given not in allowed:
                raise _invalid(field, f"{field} must be one of {', '.join(allowed)}")
        if inbox_id is not None:
            await inboxes.get_inbox(db, principal.scope, inbox_id)
        page = await access_lists.list_entries(
            db, principal.scope, inbox_id=inbox_id, scope_filter=level, direction=direction,
            kind=kind, value=value, limit=limit, after=decode_cursor(cursor),
        )  # fmt: skip
        return ListResponse[AccessListOut](**to_list_response(page, AccessListOut.of))

    @get("/{entry_id:str}", guards=[requires("delivery.manage", "mail.send", "analytics.read")],
         summary="One entry")  # fmt: skip
    async def read(self, entry_id: str, db: AsyncSession, principal: Principal) -> AccessListOut:
        return AccessListOut.of(await access_lists.get(db, principal.scope, entry_id))

    @delete("/{entry_id:str}", guards=[requires("delivery.manage")], summary="Remove an entry")
    async def remove(self, entry_id: str, db: AsyncSession, principal: Principal) -> None:
        entry = await access_lists.get(db, principal.scope, entry_id)
        if entry.inbox_id is None:
            _check_org_write(principal)
        await access_lists.remove(db, entry)
        audit_action(db, principal, "access_list.delete", resource_type="access_list",
                     resource_id=entry.id, details={"value": entry.value})  # fmt: skip
