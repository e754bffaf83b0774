"""Webhook observability: an endpoint's deliveries, one delivery with every attempt, manual
retry (also of dead deliveries), replay of a time range to an endpoint, and per-endpoint
health. Every delivery carries its workflow id (`WebhookDelivery/{id}`) for the Temporal UI.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Literal

from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.params import Parameter
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from api.actions import webhooks as delivery_actions
from api.auth import Principal, requires
from api.errors import ApiError
from api.pagination import DEFAULT_LIMIT, MAX_LIMIT, ListResponse, decode_cursor, to_list_response
from contracts import errors
from store import webhook_deliveries, webhooks
from store.base import utcnow
from store.errors import Conflict, NotFound
from store.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from workflows import ids

MAX_REPLAY_RANGE = timedelta(days=30)
# `until` may be this far in the future (client clocks drift); later is refused.
CLOCK_SKEW = timedelta(minutes=1)
HEALTH_WINDOW = timedelta(hours=24)


class AttemptOut(BaseModel):
    attempt: int
    attempted_at: datetime
    success: bool
    status_code: int | None
    latency_ms: int | None
    error: str | None
    response_body: str | None = Field(description="the start of the receiver's answer")

    @classmethod
    def of(cls, a: WebhookAttempt) -> AttemptOut:
        return cls(attempt=a.attempt, attempted_at=a.attempted_at, success=a.success,
                   status_code=a.status_code, latency_ms=a.latency_ms, error=a.error,
                   response_body=a.response_body)  # fmt: skip


class DeliveryOut(BaseModel):
    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    status: str = Field(description="pending | succeeded | failed (retries exhausted) | canceled")
    attempt_count: int
    next_attempt_at: datetime | None = Field(description="when the next retry runs (pending only)")
    last_status_code: int | None
    last_error: str | None
    workflow_id: str
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None

    @classmethod
    def of(cls, d: WebhookDelivery) -> DeliveryOut:
        return cls(
            id=d.id, endpoint_id=d.endpoint_id, event_id=d.event_id, event_type=d.event_type,
            status=d.status, attempt_count=d.attempt_count, next_attempt_at=d.next_attempt_at,
            last_status_code=d.last_status_code, last_error=d.last_error, workflow_id=d.workflow_id,
            created_at=d.created_at, updated_at=d.updated_at, completed_at=d.completed_at,
        )  # fmt: skip


class DeliveryDetail(DeliveryOut):
    attempts: list[AttemptOut]


class RetryOut(BaseModel):
    delivery_id: str
    workflow_id: str


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: AwareDatetime
    until: AwareDatetime | None = Field(None, description="default: now")
    limit: int = Field(1000, ge=1, le=1000, description="at most this many events, oldest first")


class RunningOut(BaseModel):
    delivery_id: str
    workflow_id: str


class ReplayOut(BaseModel):
    delivery_ids: list[str]
    workflow_ids: list[str]
    count: int
    already_running: list[RunningOut] = Field(
        default_factory=list,
        description="deliveries of the range still running: not restarted, their schedule goes on",
    )


class EndpointHealthOut(BaseModel):
    endpoint_id: str
    url: str
    enabled: bool
    attempts: int = Field(description="attempts in the window")
    success_rate: float | None = Field(description="share of successful attempts in the window")
    p50_ms: int | None
    p95_ms: int | None
    consecutive_failures: int
    failing_since: datetime | None
    last_success_at: datetime | None
    last_failure_at: datetime | None


class HealthOut(BaseModel):
    window_hours: float
    data: list[EndpointHealthOut]


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(422, errors.VALIDATION_ERROR, message, [{"field": field, "message": message}])


def replay_range(data: ReplayIn) -> tuple[datetime, datetime]:
    now = utcnow()
    until = data.until or now
    if until > now + CLOCK_SKEW:
        raise _invalid("until", "must not be in the future")
    if data.since >= until:
        raise _invalid("since", "must be before until")
    if until - data.since > MAX_REPLAY_RANGE:
        raise _invalid("since", f"the range may span at most {MAX_REPLAY_RANGE.days} days")
    return data.since, until


async def visible_delivery(
    db: AsyncSession, principal: Principal, delivery_id: str
) -> tuple[WebhookDelivery, WebhookEndpoint]:
    """The delivery and its endpoint, if the key may see the endpoint (else a 404)."""
    found = await webhook_deliveries.get_delivery(db, principal.org_id, delivery_id)
    try:
        endpoint = await webhooks.get_endpoint(db, principal.scope, found.endpoint_id)
    except NotFound:
        raise NotFound("webhook delivery not found", field="delivery_id") from None
    return found, endpoint


async def _running(state: State, workflow_id: str) -> bool:
    """Whether the delivery's workflow is running now (False if it never started or ended)."""
    from temporalio.client import WorkflowExecutionStatus
    from temporalio.service import RPCError, RPCStatusCode

    client = await state.temporal.get()
    try:
        desc = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return desc.status == WorkflowExecutionStatus.RUNNING


def _enabled(endpoint: WebhookEndpoint, field: str) -> None:
    if not endpoint.enabled:
        raise Conflict("the webhook endpoint is disabled; enable it first", field=field)


class WebhookDeliveryController(Controller):
    path = "/v1/webhooks"
    tags = ["webhooks"]
    guards = [requires("webhooks.manage")]

    @get("/health", summary="Per endpoint: success rate, p50/p95 latency, failure streak (24 h)")
    async def health(self, db: AsyncSession, principal: Principal) -> HealthOut:
        endpoints = await webhooks.visible_endpoints(db, principal.scope)
        stats = await webhook_deliveries.health(db, principal.org_id, window=HEALTH_WINDOW)
        rows = [EndpointHealthOut(url=e.url, enabled=e.enabled, **asdict(stats[e.id]))
                for e in endpoints if e.id in stats]  # fmt: skip
        return HealthOut(window_hours=HEALTH_WINDOW.total_seconds() / 3600, data=rows)

    @get("/{webhook_id:str}/deliveries", summary="An endpoint's deliveries, newest first")
    async def list_deliveries(
        self, webhook_id: str, db: AsyncSession, principal: Principal,
        status: Literal["pending", "succeeded", "failed", "canceled"] | None = None,
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
        cursor: str | None = Parameter(default=None, max_length=200),
    ) -> ListResponse[DeliveryOut]:  # fmt: skip
        endpoint = await webhooks.get_endpoint(db, principal.scope, webhook_id)
        after = decode_cursor(cursor)
        page = await webhook_deliveries.list_for_endpoint(
            db, principal.org_id, endpoint.id, limit=limit, after=after, status=status
        )
        return ListResponse[DeliveryOut](**to_list_response(page, DeliveryOut.of))

    @get("/deliveries/{delivery_id:str}", summary="A delivery with every attempt")
    async def read_delivery(
        self, delivery_id: str, db: AsyncSession, principal: Principal
    ) -> DeliveryDetail:
        found, _ = await visible_delivery(db, principal, delivery_id)
        attempts = await webhook_deliveries.attempts_of(db, found.id)
        return DeliveryDetail(
            **DeliveryOut.of(found).model_dump(), attempts=[AttemptOut.of(a) for a in attempts]
        )

    @post("/deliveries/{delivery_id:str}/retry", status_code=202,
          summary="Deliver again on a fresh schedule (also a failed/dead one)")  # fmt: skip
    async def retry(
        self, delivery_id: str, db: AsyncSession, principal: Principal, state: State
    ) -> RetryOut:
        found, endpoint = await visible_delivery(db, principal, delivery_id)
        _enabled(endpoint, "delivery_id")
        if found.status == webhook_deliveries.PENDING and await _running(state, found.workflow_id):
            raise ApiError(409, errors.CONFLICT,
                           f"the delivery is still running as {found.workflow_id}; its schedule "
                           "continues (retry once it has succeeded, failed or been canceled)",
                           [{"field": "delivery_id", "message": "still running",
                             "workflow_id": found.workflow_id}])  # fmt: skip
        workflow_id = await delivery_actions.retry_delivery(
            state.sessionmaker, state.temporal, state.settings, found.id, org_id=principal.org_id
        )
        return RetryOut(delivery_id=found.id, workflow_id=workflow_id)

    @post("/{webhook_id:str}/replay", status_code=202,
          summary="Deliver a time range's events (≤ 30 days) to the endpoint again")  # fmt: skip
    async def replay(
        self, webhook_id: str, data: ReplayIn, db: AsyncSession, principal: Principal, state: State
    ) -> ReplayOut:
        endpoint = await webhooks.get_endpoint(db, principal.scope, webhook_id)
        _enabled(endpoint, "webhook_id")
        since, until = replay_range(data)
        running = await webhook_deliveries.pending_in_range(
            db, principal.org_id, endpoint.id, since, until
        )
        delivery_ids = await delivery_actions.replay(
            state.sessionmaker, state.temporal, state.settings, principal.org_id, endpoint.id,
            since, until, limit=data.limit,
        )  # fmt: skip
        joined = [d for d in running if d.id in set(delivery_ids)]
        return ReplayOut(delivery_ids=delivery_ids, count=len(delivery_ids),
                         workflow_ids=[ids.webhook_delivery(d) for d in delivery_ids],
                         already_running=[RunningOut(delivery_id=d.id, workflow_id=d.workflow_id)
                                          for d in joined])  # fmt: skip
