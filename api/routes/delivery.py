"""Deliverability over HTTP: delivery events (`GET /v1/delivery/events`), metrics
(`GET /v1/delivery/metrics`), the suppression list (`/v1/delivery/suppressions`) and the DKIM
key of a domain (`GET /v1/domains/{id}/dkim`, `POST …/dkim/rotate`).

Scopes: events and metrics `analytics.read`; reading suppressions `analytics.read`,
`mail.send` or `delivery.manage`; adding/removing them `delivery.manage`; DKIM
`domains.manage`. Another organization's rows are never found (404).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import email_validator
from litestar import Controller, delete, get, post
from litestar.datastructures import State
from litestar.params import Parameter
from pydantic import BaseModel, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import audit_action
from api.auth import Principal, requires
from api.errors import ApiError
from api.pagination import DEFAULT_LIMIT, MAX_LIMIT, ListResponse, decode_cursor, to_list_response
from contracts import errors
from outbound import dkim
from store import delivery_events, dkim_keys, inboxes, suppressions
from store.base import utcnow
from store.models import DeliveryEvent, Suppression


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(400, errors.VALIDATION_ERROR, message, [{"field": field, "message": message}])


class DeliveryEventOut(BaseModel):
    id: str
    message_id: str
    inbox_id: str
    type: str
    recipient: str | None
    detail: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, e: DeliveryEvent) -> DeliveryEventOut:
        return cls(
            id=e.id, message_id=e.message_id, inbox_id=e.inbox_id, type=e.type,
            recipient=e.recipient, detail=e.detail or {}, created_at=e.created_at,
        )  # fmt: skip


class MetricsOut(BaseModel):
    period_days: int
    since: datetime
    inbox_id: str | None
    counts: dict[str, int] = Field(description="Delivery events per type")
    messages: dict[str, int] = Field(description="Distinct messages with an event of each type")
    delivery_rate: float | None = Field(description="Messages delivered / messages sent")
    bounce_rate: float | None = Field(description="Messages bounced / messages sent")
    complaint_rate: float | None = Field(description="Messages complained about / messages sent")


class SuppressionIn(BaseModel):
    address: str = Field(max_length=320)
    reason: str = Field("manual", description="manual (default), hard_bounce or complaint")
    detail: str | None = Field(None, max_length=1000)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        try:
            checked = email_validator.validate_email(value.strip(), check_deliverability=False)
        except email_validator.EmailNotValidError as exc:
            raise ValueError(f"not a valid email address: {exc}") from exc
        return str(checked.normalized).lower()

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        if value not in suppressions.REASONS:
            raise ValueError(f"must be one of {', '.join(suppressions.REASONS)}")
        return value


class SuppressionOut(BaseModel):
    id: str
    address: str
    reason: str
    source: str
    message_id: str | None
    detail: str | None
    created_at: datetime

    @classmethod
    def of(cls, s: Suppression) -> SuppressionOut:
        return cls(id=s.id, address=s.address, reason=s.reason, source=s.source,
                   message_id=s.message_id, detail=s.detail, created_at=s.created_at)  # fmt: skip


class DkimOut(BaseModel):
    domain_id: str
    domain: str
    selector: str
    algorithm: str
    key_bits: int
    public_key: str = Field(description="base64 SubjectPublicKeyInfo (the p= tag)")
    dns_record: dict[str, str] = Field(description="{type, name, value} to publish")
    created_at: datetime


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _period_days(period: str | None, days: int | None) -> int:
    if period is not None and days is not None:
        raise _invalid("period", "give period or days, not both")
    if days is not None:
        return days
    if period is None:
        return 30
    if period not in ("7d", "30d"):
        raise _invalid("period", "period must be 7d or 30d (or use days=N)")
    return int(period[:-1])


class DeliveryController(Controller):
    path = "/v1/delivery"
    tags = ["delivery"]

    @get("/events", guards=[requires("analytics.read")],
         summary="Delivery events of outbound mail, newest first")  # fmt: skip
    async def list_events(
        self, db: AsyncSession, principal: Principal,
        inbox_id: str | None = Parameter(default=None, max_length=40),
        message_id: str | None = Parameter(default=None, max_length=40),
        type: str | None = Parameter(default=None, max_length=30),  # noqa: A002
        recipient: str | None = Parameter(default=None, max_length=320),
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
        cursor: str | None = Parameter(default=None, max_length=200),
    ) -> ListResponse[DeliveryEventOut]:  # fmt: skip
        if type is not None and type not in delivery_events.EVENT_TYPES:
            raise _invalid("type", f"type must be one of {', '.join(delivery_events.EVENT_TYPES)}")
        if inbox_id is not None:
            await inboxes.get_inbox(db, principal.scope, inbox_id)
        page = await delivery_events.list_events(
            db, principal.scope, inbox_id=inbox_id, message_id=message_id, type=type,
            recipient=recipient, limit=limit, after=decode_cursor(cursor),
        )  # fmt: skip
        return ListResponse[DeliveryEventOut](**to_list_response(page, DeliveryEventOut.of))

    @get("/metrics", guards=[requires("analytics.read")],
         summary="Delivery counts and delivery/bounce/complaint rates over a period")  # fmt: skip
    async def metrics(
        self, db: AsyncSession, principal: Principal,
        period: str | None = Parameter(default=None, max_length=10, description="7d or 30d"),
        days: int | None = Parameter(default=None, ge=1, le=365),
        inbox_id: str | None = Parameter(default=None, max_length=40),
    ) -> MetricsOut:  # fmt: skip
        n = _period_days(period, days)
        if inbox_id is not None:
            await inboxes.get_inbox(db, principal.scope, inbox_id)
        since = utcnow() - timedelta(days=n)
        counts, messages = await delivery_events.counts(
            db, principal.scope, since=since, inbox_id=inbox_id
        )
        sent = messages["sent"]
        return MetricsOut(
            period_days=n, since=since, inbox_id=inbox_id, counts=counts, messages=messages,
            delivery_rate=_rate(messages["delivered"], sent),
            bounce_rate=_rate(messages["bounced"], sent),
            complaint_rate=_rate(messages["complained"], sent),
        )  # fmt: skip

    @get("/suppressions", guards=[requires("analytics.read", "mail.send", "delivery.manage")],
         summary="The suppression list (filter by address or reason), newest first")  # fmt: skip
    async def list_suppressions(
        self, db: AsyncSession, principal: Principal,
        address: str | None = Parameter(default=None, max_length=320),
        reason: str | None = Parameter(default=None, max_length=30),
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
        cursor: str | None = Parameter(default=None, max_length=200),
    ) -> ListResponse[SuppressionOut]:  # fmt: skip
        if reason is not None and reason not in suppressions.REASONS:
            raise _invalid("reason", f"reason must be one of {', '.join(suppressions.REASONS)}")
        page = await suppressions.list_suppressions(
            db, principal.scope, address=address, reason=reason, limit=limit,
            after=decode_cursor(cursor),
        )  # fmt: skip
        return ListResponse[SuppressionOut](**to_list_response(page, SuppressionOut.of))

    @get("/suppressions/{suppression_id:str}",
         guards=[requires("analytics.read", "mail.send", "delivery.manage")],
         summary="One suppression")  # fmt: skip
    async def read_suppression(
        self, suppression_id: str, db: AsyncSession, principal: Principal
    ) -> SuppressionOut:
        return SuppressionOut.of(await suppressions.get(db, principal.scope, suppression_id))

    @post("/suppressions", guards=[requires("delivery.manage")],
          summary="Suppress an address by hand (a known one keeps its entry)")  # fmt: skip
    async def add_suppression(
        self, data: SuppressionIn, db: AsyncSession, principal: Principal
    ) -> SuppressionOut:
        row = await suppressions.add(db, principal.scope, data.address, reason=data.reason,
                                     source="api", detail=data.detail)  # fmt: skip
        audit_action(db, principal, "suppression.create", resource_type="suppression",
                     resource_id=row.id, details={"address": row.address})  # fmt: skip
        return SuppressionOut.of(row)

    @delete("/suppressions/{suppression_id:str}", guards=[requires("delivery.manage")],
            summary="Remove a suppression (the address can be sent to again)")  # fmt: skip
    async def remove_suppression(
        self, suppression_id: str, db: AsyncSession, principal: Principal
    ) -> None:
        row = await suppressions.get(db, principal.scope, suppression_id)
        await suppressions.remove(db, row)
        audit_action(db, principal, "suppression.delete", resource_type="suppression",
                     resource_id=row.id, details={"address": row.address})  # fmt: skip


class DkimController(Controller):
    path = "/v1/domains"
    tags = ["domains"]
    guards = [requires("domains.manage")]

    @get("/{domain_id:str}/dkim", summary="The domain's DKIM key and the DNS TXT record to publish "
                                          "(generated on first read)")  # fmt: skip
    async def read_dkim(
        self, domain_id: str, db: AsyncSession, principal: Principal, state: State
    ) -> DkimOut:
        domain = await dkim_keys.domain_for_org(db, principal.org_id, domain_id)
        key = await dkim.ensure_key(db, domain, master_key=state.settings.master_key_bytes())
        return _dkim_out(domain, key)

    @post("/{domain_id:str}/dkim/rotate", status_code=200,
          summary="A new DKIM key (new selector); mail is signed with it from now on")  # fmt: skip
    async def rotate_dkim(
        self, domain_id: str, db: AsyncSession, principal: Principal, state: State
    ) -> DkimOut:
        domain = await dkim_keys.domain_for_org(db, principal.org_id, domain_id)
        if domain.org_id is None and not principal.is_superadmin:
            raise ApiError(
                403, errors.FORBIDDEN, "only a superadmin may rotate a platform domain's key",
                [{"field": "domain_id", "message": "platform domain"}],
            )
        key = await dkim.create_key(db, domain, master_key=state.settings.master_key_bytes())
        audit_action(db, principal, "domain.dkim_rotate", resource_type="domain",
                     resource_id=domain.id, details={"selector": key.selector})  # fmt: skip
        return _dkim_out(domain, key)


def _dkim_out(domain: Any, key: Any) -> DkimOut:
    record = dkim.dns_record(domain, key)
    return DkimOut(
        domain_id=domain.id, domain=domain.name, selector=key.selector, algorithm=key.algorithm,
        key_bits=key.key_bits, public_key=key.public_key, created_at=key.created_at,
        dns_record={"type": "TXT", "name": record.name, "value": record.value},
    )  # fmt: skip
