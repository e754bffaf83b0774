"""OutboundMail: the one send path every outbound message takes, started by the API.

send policy (suppressions, block/allow lists) → approval gate (if required) → durable sleep
until `send_at` → policy again → transport attempts with a durable backoff → final status.
Cancel, reschedule, approve and reject are updates: each gets a definite answer. Until the
workflow sets `_handed_off` (synchronously, in the same step that checks for a cancel), a
cancel wins; afterwards it is refused, so the final state is exactly one of sent, canceled or
failed however a cancel races the send time. Only ids and decisions travel in history.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.indexing import IndexingActivities
    from activities.outbound import OutboundActivities
    from contracts.errors import NOT_FOUND
    from contracts.outbound import (
        ALREADY_FINISHED,
        ALREADY_HANDED_OFF,
        NOT_AWAITING_APPROVAL,
        SIGNAL_THREAD_REPLIED,
        UPDATE_APPROVE,
        UPDATE_CANCEL,
        UPDATE_REJECT,
        UPDATE_RESCHEDULE,
        ApproveInput,
        CancelInput,
        DecisionResult,
        DeliverInput,
        DeliverResult,
        FinishInput,
        MarkInput,
        OutboundMailInput,
        OutboundMailResult,
        OutboundState,
        RejectInput,
        RescheduleInput,
        SendPlan,
        ThreadRepliedInput,
    )
    from contracts.search import MessageRef

_DB_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=500),
                        maximum_interval=timedelta(seconds=30),
                        non_retryable_error_types=[NOT_FOUND])  # fmt: skip
# The transport activity is safe to retry: it reads each recipient's hand-off state first.
_DELIVER_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1),
                             maximum_interval=timedelta(minutes=1),
                             non_retryable_error_types=[NOT_FOUND])  # fmt: skip
_LOCAL = timedelta(seconds=30)
# Search indexing of what was sent (keyword rows + vectors). Best effort: it can never change
# the send's outcome. Histories from before it have no marker and skip it on replay.
PATCH_SEARCH_INDEX = "search-index"
_INDEX_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=5)


@workflow.defn(name="OutboundMail")
class OutboundMailWorkflow:
    def __init__(self) -> None:
        self._state = OutboundState()
        self._composer_key: str | None = None
        self._cancel: CancelInput | None = None
        self._approval: ApproveInput | None = None
        self._rejection: RejectInput | None = None
        self._replied = False
        self._send_at: datetime | None = None

    @workflow.run
    async def run(self, inp: OutboundMailInput) -> OutboundMailResult:
        self._state.message_id = inp.message_id
        plan: SendPlan = await self._local(OutboundActivities.load_plan, inp)
        self._composer_key = plan.api_key_id
        if plan.status in ("sent", "captured", "canceled", "failed", "suppressed"):
            return self._result(plan.status)
        self._send_at = plan.send_at
        status = await self._before_handoff(inp, plan)
        if status is None:
            status = await self._deliver(inp, plan)
        if status in ("sent", "captured") and workflow.patched(PATCH_SEARCH_INDEX):
            await self._index(inp.message_id)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._result(status)

    async def _before_handoff(self, inp: OutboundMailInput, plan: SendPlan) -> str | None:
        """Policy, approval and the schedule: a final status, or None to hand off now."""
        if plan.deliverable == 0:  # every recipient refused by the send policy
            return await self._finish(FinishInput(message_id=inp.message_id, status="suppressed"))
        if plan.requires_approval:
            refused = await self._await_approval(inp, plan)
            if refused is not None:
                return refused
        while True:
            if self._cancel is not None:
                return await self._finish(FinishInput(message_id=inp.message_id,
                                                      status="canceled", reason=self._cancel.reason))
            if self._replied and plan.unless_replied:
                return await self._finish(FinishInput(message_id=inp.message_id,
                                                      status="canceled", reason="replied"))
            now = workflow.now()
            if self._send_at is None or self._send_at <= now:
                # 👉 The hand-off point: from here on cancel and reschedule are refused.
                self._state.handed_off = True
                return None
            self._state.phase, self._state.send_at = "scheduled", self._send_at
            target = self._send_at
            try:
                await workflow.wait_condition(
                    lambda: self._cancel is not None or self._send_at != target
                    or (self._replied and plan.unless_replied),
                    timeout=target - now,
                )  # fmt: skip
            except TimeoutError:
                pass

    async def _await_approval(self, inp: OutboundMailInput, plan: SendPlan) -> str | None:
        await self._local(OutboundActivities.mark, MarkInput(
            message_id=inp.message_id, status="awaiting_approval", event="awaiting_approval"))
        self._state.phase = "awaiting_approval"
        expiry = timedelta(seconds=plan.approval_expiry_seconds)
        decided = lambda: (self._approval or self._rejection or self._cancel) is not None  # noqa: E731
        for escalation in (True, False):
            try:
                await workflow.wait_condition(decided, timeout=expiry)
                break
            except TimeoutError:
                if escalation:  # nobody decided in time: tell someone, then wait once more
                    await self._local(OutboundActivities.mark, MarkInput(
                        message_id=inp.message_id, status="awaiting_approval",
                        event="approval_escalated"))  # fmt: skip
        if self._approval is not None:
            status = "scheduled" if self._send_at and self._send_at > workflow.now() else "queued"
            await self._local(OutboundActivities.mark, MarkInput(
                message_id=inp.message_id, status=status, event="approved",
                detail=self._approval.approver_key_id))  # fmt: skip
            self._state.phase = "approved"
            return None
        reason = ("rejected" if self._rejection is not None
                  else self._cancel.reason if self._cancel is not None else "approval_expired")
        return await self._finish(FinishInput(message_id=inp.message_id, status="canceled",
                                              reason=reason))  # fmt: skip

    async def _deliver(self, inp: OutboundMailInput, plan: SendPlan) -> str:
        self._state.phase = "sending"
        # The transport activity applies the send policy again before any hand-off.
        waited = 0.0  # planned delays so far: the retry period is a schedule, not wall time
        schedule = plan.retry_schedule_seconds or [60.0]
        while True:
            self._state.attempts += 1
            # 👉 A local activity: the hand-off runs in the worker holding the workflow task, with
            # no extra round trip through the task queue (scheduled-send lateness). If that worker
            # dies, the task times out and another worker runs the attempt again, which finds the
            # recipients' recorded hand-off state first (activities/outbound.py).
            result: DeliverResult = await workflow.execute_local_activity_method(
                OutboundActivities.deliver,
                DeliverInput(message_id=inp.message_id, attempt=self._state.attempts),
                start_to_close_timeout=timedelta(minutes=10), retry_policy=_DELIVER_RETRY,
            )  # fmt: skip
            if result.remaining == 0:
                break
            delay = schedule[min(self._state.attempts - 1, len(schedule) - 1)]
            if waited + delay > plan.retry_period_seconds:
                break  # the finish step fails whatever is still open
            waited += delay
            self._state.phase = "retrying"
            await workflow.sleep(timedelta(seconds=delay))
        return await self._finish(FinishInput(message_id=inp.message_id, status="sent"))

    async def _index(self, message_id: str) -> None:
        try:
            await workflow.execute_local_activity_method(
                IndexingActivities.index_message, MessageRef(message_id=message_id),
                start_to_close_timeout=timedelta(minutes=5), retry_policy=_INDEX_RETRY,
            )  # fmt: skip
        except ActivityError:
            workflow.logger.warning("search indexing failed for %s", message_id)

    async def _finish(self, inp: FinishInput) -> str:
        result: DecisionResult = await self._local(OutboundActivities.finish, inp)
        self._state.final_status, self._state.phase = result.status, "done"
        return result.status

    async def _local(self, fn, arg):  # type: ignore[no-untyped-def]
        return await workflow.execute_local_activity_method(
            fn, arg, start_to_close_timeout=_LOCAL, retry_policy=_DB_RETRY)

    def _result(self, status: str) -> OutboundMailResult:
        return OutboundMailResult(message_id=self._state.message_id, status=status,
                                  attempts=self._state.attempts)  # fmt: skip

    def _refuse_after_handoff(self) -> None:
        if self._state.final_status is not None:
            raise ApplicationError(f"the message is already {self._state.final_status}",
                                   type=ALREADY_FINISHED, non_retryable=True)  # fmt: skip
        if self._state.handed_off:
            raise ApplicationError("the message was already handed to its transport",
                                   type=ALREADY_HANDED_OFF, non_retryable=True)  # fmt: skip

    @workflow.update(name=UPDATE_CANCEL)
    async def cancel(self, inp: CancelInput) -> DecisionResult:
        # Checked again here, not only in the validator: the run loop may have handed off
        # between validation and this handler running.
        self._refuse_after_handoff()
        self._cancel = self._cancel or inp
        await workflow.wait_condition(lambda: self._state.final_status is not None)
        return DecisionResult(status=self._state.final_status or "canceled")

    @cancel.validator
    def validate_cancel(self, inp: CancelInput) -> None:
        self._refuse_after_handoff()

    @workflow.update(name=UPDATE_RESCHEDULE)
    async def reschedule(self, inp: RescheduleInput) -> DecisionResult:
        self._refuse_after_handoff()
        self._send_at = inp.send_at
        return DecisionResult(status=self._state.phase, send_at=inp.send_at)

    @reschedule.validator
    def validate_reschedule(self, inp: RescheduleInput) -> None:
        self._refuse_after_handoff()

    @workflow.update(name=UPDATE_APPROVE)
    async def approve(self, inp: ApproveInput) -> DecisionResult:
        self._check_decidable(inp.approver_key_id)
        self._approval = inp
        await workflow.wait_condition(lambda: self._state.phase != "awaiting_approval")
        return DecisionResult(status=self._state.final_status or "approved", send_at=self._send_at)

    @approve.validator
    def validate_approve(self, inp: ApproveInput) -> None:
        self._check_decidable(inp.approver_key_id)

    @workflow.update(name=UPDATE_REJECT)
    async def reject(self, inp: RejectInput) -> DecisionResult:
        self._check_decidable(inp.approver_key_id)
        self._rejection = inp
        await workflow.wait_condition(lambda: self._state.final_status is not None)
        return DecisionResult(status=self._state.final_status or "canceled")

    @reject.validator
    def validate_reject(self, inp: RejectInput) -> None:
        self._check_decidable(inp.approver_key_id)

    def _check_decidable(self, approver_key_id: str) -> None:
        if self._state.phase != "awaiting_approval" or (
            self._approval or self._rejection or self._cancel
        ):
            raise ApplicationError("the message is not awaiting approval",
                                   type=NOT_AWAITING_APPROVAL, non_retryable=True)  # fmt: skip
        if self._composer_key is not None and approver_key_id == self._composer_key:
            raise ApplicationError("the key that composed a message cannot approve it",
                                   type="own_message", non_retryable=True)  # fmt: skip

    @workflow.signal(name=SIGNAL_THREAD_REPLIED)
    def thread_replied(self, inp: ThreadRepliedInput) -> None:
        self._replied = True

    @workflow.query(name="get_state")
    def get_state(self) -> OutboundState:
        return self._state
