"""Webhook activities: dispatch events to endpoints, attempt one delivery, finish a delivery.

An attempt signs the event envelope with every live secret of the endpoint (Standard
Webhooks), POSTs it through `egress` (SSRF checks on every attempt, no redirects, capped
response), and records the attempt, the delivery and the endpoint's failure streak in one
transaction. It never retries: the WebhookDelivery workflow's schedule does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from temporalio import activity

from contracts.webhooks import (
    AttemptInput,
    AttemptResult,
    DispatchInput,
    DispatchResult,
    FinishDeliveryInput,
    FinishDeliveryResult,
)

if TYPE_CHECKING:
    from activities.deps import ActivityDeps
    from store.models import Event, WebhookEndpoint

log = logging.getLogger("postflow.webhooks")
USER_AGENT = "Postflow-Webhooks/1"
SECRET_PURPOSE = "webhook-secret"  # noqa: S105 (the sealing purpose label, not a secret)
RESPONSE_BODY_BYTES = 2048
# Receivers that say "not now" with these may also say when (Retry-After).
RETRY_AFTER_STATUSES = frozenset({429, 502, 503, 504})
Outcome = Literal["success", "retry", "gone", "skipped"]


class WebhookActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn(name="webhooks.dispatch")
    async def dispatch(self, inp: DispatchInput) -> DispatchResult:
        """Create and start the deliveries of freshly written events (idempotent)."""
        from api.actions.webhooks import dispatch

        delivery_ids = await dispatch(
            self.deps.sessionmaker, activity.client(), self.deps.settings, inp.event_ids
        )
        return DispatchResult(delivery_ids=delivery_ids)

    @activity.defn(name="webhooks.attempt_delivery")
    async def attempt_delivery(self, inp: AttemptInput) -> AttemptResult:
        from egress import EgressError, UnsafeTarget, post, retry_after_seconds
        from store import webhook_deliveries

        async with self.deps.sessionmaker() as session:
            found = await webhook_deliveries.attempt_context(session, inp.delivery_id)
        if found is None:  # deleted together with its endpoint
            return AttemptResult(outcome="skipped", error="the delivery no longer exists")
        delivery, endpoint, event = found
        if not endpoint.enabled:
            return AttemptResult(outcome="skipped", error="the endpoint is disabled")
        if delivery.status != webhook_deliveries.PENDING:  # canceled from elsewhere
            return AttemptResult(outcome="skipped", error=f"the delivery is {delivery.status}")
        body = envelope_json(event)
        attempted_at = datetime.now(UTC)
        status_code = latency_ms = None
        response_body: str | None = None
        retry_after: float | None = None
        headers, error = self._signed_headers(endpoint, event.id, body)
        try:
            if headers is not None:
                response = await post(
                    endpoint.url, body=body, headers=headers, settings=self.deps.settings,
                    timeout=inp.policy.timeout_seconds, max_body_bytes=RESPONSE_BODY_BYTES,
                )  # fmt: skip
                status_code, latency_ms = response.status_code, response.latency_ms
                # Text columns cannot hold NUL (PostgreSQL): a binary reply is stored mangled.
                response_body = response.body.decode("utf-8", "replace").replace("\x00", "\ufffd")
                if status_code in RETRY_AFTER_STATUSES:
                    retry_after = retry_after_seconds(response.headers.get("retry-after"))
                if 300 <= status_code < 400:
                    error = f"redirect to {response.headers.get('location', '?')} not followed"
        except UnsafeTarget as exc:
            error = f"refused: {exc.reason}"
        except EgressError as exc:
            error, latency_ms = f"{exc.kind}: {exc}", exc.latency_ms
        outcome = _outcome(status_code)
        next_delay = _next_delay(inp, outcome, retry_after)
        next_at = attempted_at + timedelta(seconds=next_delay) if next_delay is not None else None
        async with self.deps.sessionmaker.begin() as session:
            failing_since = await webhook_deliveries.record_attempt(
                session, delivery.id, endpoint.id, attempted_at=attempted_at,
                success=outcome == "success", status_code=status_code, latency_ms=latency_ms,
                error=error, response_body=response_body, next_attempt_at=next_at,
            )  # fmt: skip
        disable_reason = None
        limit = timedelta(seconds=inp.policy.disable_after_seconds)
        if outcome == "retry" and failing_since and attempted_at - failing_since >= limit:
            since = failing_since.isoformat(timespec="seconds")
            disable_reason, next_delay = f"failing continuously since {since}", None
        return AttemptResult(
            outcome=outcome, status_code=status_code, retry_after_seconds=retry_after, error=error,
            next_delay_seconds=next_delay, disable_reason=disable_reason,
        )  # fmt: skip

    @activity.defn(name="webhooks.finish_delivery")
    async def finish_delivery(self, inp: FinishDeliveryInput) -> FinishDeliveryResult:
        """Record the final status; disable the endpoint (announcing it with a
        `webhook.endpoint_disabled` event, dispatched to the org's other endpoints)."""
        from contracts.events import EndpointDisabledData
        from store import events, webhook_deliveries

        event_ids: list[str] = []
        reason = inp.disable_endpoint_reason
        async with self.deps.sessionmaker.begin() as session:
            delivery = await webhook_deliveries.finish(session, inp.delivery_id, inp.status)
            if delivery is not None and reason:
                # Named after the disabling run of this delivery, so a retried finish finds the
                # event it wrote before (and dispatches it) instead of writing another.
                resource_id = f"{delivery.endpoint_id}:{delivery.id}:{delivery.attempt_count}"
                endpoint = await webhook_deliveries.disable_endpoint(
                    session, delivery.endpoint_id, reason
                )
                if endpoint is not None:
                    data = EndpointDisabledData(endpoint_id=endpoint.id, url=endpoint.url,
                                                reason=reason)  # fmt: skip
                    event = await events.emit(
                        session, org_id=endpoint.org_id, inbox_id=None,
                        type="webhook.endpoint_disabled", resource_id=resource_id,
                        payload=data.model_dump(mode="json"),
                    )  # fmt: skip
                    event_ids.append(event.id)
                else:
                    event_ids += await webhook_deliveries.events_about(
                        session, "webhook.endpoint_disabled", resource_id
                    )
        if event_ids:
            await self.dispatch(DispatchInput(event_ids=event_ids))
        return FinishDeliveryResult(event_ids=event_ids)

    def _signed_headers(
        self, endpoint: WebhookEndpoint, event_id: str, body: bytes
    ) -> tuple[dict[str, str] | None, str | None]:
        """(request headers, None), or (None, why not) when the secret is unusable."""
        from cryptography.exceptions import InvalidTag

        from crypto import webhook_signing

        try:
            secrets = self._secrets(endpoint)
            # webhook-id is the event id: the same on every attempt, so receivers deduplicate.
            signed = webhook_signing.headers(secrets, event_id, int(time.time()), body)
        except (ValueError, InvalidTag) as exc:  # sealed under another master key, or malformed
            return None, f"cannot sign: the endpoint's secret is unusable ({type(exc).__name__})"
        return {**signed, "Content-Type": "application/json", "User-Agent": USER_AGENT}, None

    def _secrets(self, endpoint: WebhookEndpoint) -> list[str]:
        """The current secret, then the previous one while its rotation overlap lasts."""
        from crypto.sealing import unseal

        key = self.deps.settings.master_key_bytes()
        secrets = [unseal(key, endpoint.secret_sealed, SECRET_PURPOSE)]
        expires = endpoint.previous_secret_expires_at
        if endpoint.previous_secret_sealed and expires is not None and expires > datetime.now(UTC):
            secrets.append(unseal(key, endpoint.previous_secret_sealed, SECRET_PURPOSE))
        return secrets


def envelope_json(event: Event) -> bytes:
    """The webhook body: the event envelope, the same bytes on every attempt."""
    from contracts.events import EventEnvelope

    return EventEnvelope(
        id=event.id, type=event.type, timestamp=event.created_at, org_id=event.org_id,
        inbox_id=event.inbox_id, labels=list(event.labels or []), data=dict(event.payload or {}),
    ).model_dump_json().encode()  # fmt: skip


def _outcome(status_code: int | None) -> Outcome:
    if status_code is not None and 200 <= status_code < 300:
        return "success"
    return "gone" if status_code == 410 else "retry"


def _next_delay(inp: AttemptInput, outcome: Outcome, retry_after: float | None) -> float | None:
    """The schedule's delay, stretched to the receiver's Retry-After (capped), never shortened:
    the schedule is our floor, Retry-After only ever asks for more patience."""
    if outcome != "retry" or inp.planned_delay_seconds is None:
        return None
    asked = min(retry_after or 0.0, inp.policy.max_retry_after_seconds)
    return max(inp.planned_delay_seconds, asked)


class DeliveryReconciler:
    """Starts the deliveries whose workflow never started, so none is lost.

    `dispatch` commits the delivery rows, then starts their workflows. If the start fails
    (Temporal unreachable, the worker killed in between, an API retry or replay whose start
    failed after the row was reopened) the row stays `pending` with its attempt overdue. Every
    `interval` the worker looks at such rows and asks Temporal about each workflow: running →
    it is only backlogged, left alone; never started → started; closed before the row was
    (re)opened → a new run (retry/replay). A run that closed leaving its row pending (a bug,
    or an operator's terminate) is logged, not restarted in a loop. Starts use the
    deterministic workflow id, so two workers reconciling at once start nothing twice.
    """

    def __init__(self, deps: ActivityDeps, client: Any, *, grace: timedelta = timedelta(seconds=60)) -> None:
        self.deps = deps
        self.client = client
        self.grace = grace

    async def reconcile_once(self, grace: timedelta | None = None) -> list[str]:
        """One pass; returns the ids of the deliveries it started."""
        from temporalio.client import WorkflowExecutionStatus
        from temporalio.service import RPCError, RPCStatusCode

        from api.actions.webhooks import retry_delivery
        from store import webhook_deliveries

        async with self.deps.sessionmaker() as session:
            rows = await webhook_deliveries.overdue(session, grace=self.grace if grace is None else grace)
        started: list[str] = []
        for row in rows:
            try:
                desc = await self.client.get_workflow_handle(row.workflow_id).describe()
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
                desc = None
            if desc is not None and desc.status == WorkflowExecutionStatus.RUNNING:
                continue  # backlogged, not lost
            if desc is not None and (desc.close_time is None or desc.close_time >= row.updated_at):
                log.warning("delivery %s is pending but its run %s ended %s; not restarted",
                                     row.id, row.workflow_id, desc.status)  # fmt: skip
                continue
            # Never started, or reopened after its last run ended: start it (USE_EXISTING).
            await retry_delivery(self.deps.sessionmaker, self.client, self.deps.settings, row.id)
            started.append(row.id)
        return started

    async def reconcile_forever(self, interval: float = 30.0) -> None:
        while True:
            try:
                if started := await self.reconcile_once():
                    log.info("webhook reconciler started %d deliveries", len(started))
            except Exception as exc:  # Temporal or the database down: try again next pass
                log.warning("webhook reconciler pass failed: %s", exc)
            await asyncio.sleep(interval)
