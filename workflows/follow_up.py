"""FollowUp: a sequence of up to N mails on one thread, each after its delay, stopping at the
first reply (the inbound pipeline signals `thread_replied`) or a cancel. Each step goes
through the normal send path (its own OutboundMail workflow: policy, approval, transport)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.follow_up import FollowUpActivities
    from contracts.outbound import (
        SIGNAL_THREAD_REPLIED,
        FollowUpFinishInput,
        FollowUpInput,
        FollowUpResult,
        FollowUpStepInput,
        FollowUpStepResult,
        ThreadRepliedInput,
    )

SIGNAL_CANCEL = "cancel"
_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


@workflow.defn(name="FollowUp")
class FollowUpWorkflow:
    def __init__(self) -> None:
        self._replied = False
        self._canceled = False

    @workflow.run
    async def run(self, inp: FollowUpInput) -> FollowUpResult:
        status, sent = "completed", 0
        for index, delay in enumerate(inp.delays_seconds):
            if delay > 0:
                try:
                    await workflow.wait_condition(lambda: self._replied or self._canceled,
                                                  timeout=timedelta(seconds=delay))  # fmt: skip
                except TimeoutError:
                    pass
            if self._replied or self._canceled:
                status = "replied" if self._replied else "canceled"
                break
            result: FollowUpStepResult = await workflow.execute_activity_method(
                FollowUpActivities.send_step, FollowUpStepInput(sequence_id=inp.sequence_id, index=index),
                start_to_close_timeout=timedelta(minutes=2), retry_policy=_RETRY,
            )  # fmt: skip
            if result.skipped:
                status = "failed"
                break
            sent += 1
        await workflow.execute_local_activity_method(
            FollowUpActivities.finish, FollowUpFinishInput(sequence_id=inp.sequence_id, status=status),
            start_to_close_timeout=timedelta(seconds=30), retry_policy=_RETRY,
        )  # fmt: skip
        return FollowUpResult(sequence_id=inp.sequence_id, status=status, sent=sent)

    @workflow.signal(name=SIGNAL_THREAD_REPLIED)
    def thread_replied(self, inp: ThreadRepliedInput) -> None:
        self._replied = True

    @workflow.signal(name=SIGNAL_CANCEL)
    def cancel(self) -> None:
        self._canceled = True
