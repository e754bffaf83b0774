"""WebhookDelivery: one event to one endpoint, attempted until it succeeds or the schedule ends.

The first attempt runs at once, the next ones after each delay of the policy's schedule, each
delay scaled by a jitter factor from workflow.random() and stretched (never shortened) by a
receiver's Retry-After. An attempt is a regular activity that may wait out the HTTP timeout,
with no retries of its own: the schedule is the retry, and a durable timer separates attempts.
A 410, or an endpoint failing for longer than allowed, disables the endpoint; an endpoint that
was deleted or disabled meanwhile ends the delivery `canceled`, as does canceling the workflow.
At most len(schedule) + 1 attempts keep the history small, so it never continues as new.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, CancelledError

with workflow.unsafe.imports_passed_through():
    from activities.webhooks import WebhookActivities
    from contracts.webhooks import (
        AttemptInput,
        AttemptResult,
        DeliverWebhookInput,
        DeliverWebhookResult,
        DeliveryState,
        FinalStatus,
        FinishDeliveryInput,
    )

# 👉 One try per attempt: the workflow's schedule decides when the next one happens.
_ONCE = RetryPolicy(maximum_attempts=1)
# Finishing is a database write: keep trying until the database answers.
_FINISH_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)
)
# Beyond the HTTP timeout: DNS, signing and recording the attempt.
_ATTEMPT_MARGIN = timedelta(seconds=10)


@workflow.defn(name="WebhookDelivery")
class WebhookDeliveryWorkflow:
    def __init__(self) -> None:
        self._state = DeliveryState(delivery_id="")

    @workflow.run
    async def run(self, inp: DeliverWebhookInput) -> DeliverWebhookResult:
        self._state = DeliveryState(delivery_id=inp.delivery_id)
        try:
            status, disable_reason = await self._attempts(inp)
        except asyncio.CancelledError:
            # Canceled while waiting or attempting: record it, then end as canceled.
            await self._finish(FinishDeliveryInput(delivery_id=inp.delivery_id, status="canceled"))
            raise
        await self._finish(FinishDeliveryInput(
            delivery_id=inp.delivery_id, status=status, disable_endpoint_reason=disable_reason,
        ))  # fmt: skip
        return DeliverWebhookResult(delivery_id=inp.delivery_id, status=status,
                                    attempts=self._state.attempts)  # fmt: skip

    @workflow.query(name="get_state")
    def get_state(self) -> DeliveryState:
        return self._state

    async def _attempts(self, inp: DeliverWebhookInput) -> tuple[FinalStatus, str | None]:
        """Attempt until done; returns (final status, reason to disable the endpoint)."""
        policy, state = inp.policy, self._state
        for index in range(len(policy.schedule_seconds) + 1):
            planned = None
            if index < len(policy.schedule_seconds):
                factor = workflow.random().uniform(1 - policy.jitter, 1 + policy.jitter)
                planned = policy.schedule_seconds[index] * factor
            result = await self._attempt(AttemptInput(
                delivery_id=inp.delivery_id, attempt=index + 1, policy=policy,
                planned_delay_seconds=planned,
            ))  # fmt: skip
            if result.outcome == "skipped":
                return "canceled", None
            state.attempts += 1
            state.last_status_code, state.last_error = result.status_code, result.error
            if result.outcome == "success":
                return "succeeded", None
            if result.outcome == "gone":
                return "failed", f"the endpoint answered {result.status_code} Gone"
            if result.disable_reason is not None:
                return "failed", result.disable_reason
            if result.next_delay_seconds is None:
                break
            delay = result.next_delay_seconds
            if delay > 0:
                state.next_attempt_at = workflow.now() + timedelta(seconds=delay)
                await workflow.sleep(delay)
                state.next_attempt_at = None
        return "failed", None

    async def _attempt(self, inp: AttemptInput) -> AttemptResult:
        timeout = timedelta(seconds=inp.policy.timeout_seconds) + _ATTEMPT_MARGIN
        try:
            return await workflow.execute_activity_method(
                WebhookActivities.attempt_delivery, inp, start_to_close_timeout=timeout,
                retry_policy=_ONCE,
            )  # fmt: skip
        except ActivityError as err:
            if isinstance(err.cause, CancelledError):
                # The workflow is being canceled mid-attempt (the SDK turns that into a
                # canceled activity): end like a cancel at any other point.
                raise asyncio.CancelledError() from err
            # The attempt did not complete (its worker died mid-request, the database was
            # down): count it as a failed attempt and keep to the schedule.
            error = f"attempt did not complete: {err.cause or err}"
            return AttemptResult(outcome="retry", error=error,
                                 next_delay_seconds=inp.planned_delay_seconds)  # fmt: skip

    async def _finish(self, inp: FinishDeliveryInput) -> None:
        await workflow.execute_local_activity_method(
            WebhookActivities.finish_delivery, inp, start_to_close_timeout=timedelta(seconds=30),
            retry_policy=_FINISH_RETRY,
        )  # fmt: skip
        self._state.status = inp.status
