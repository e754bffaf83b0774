"""WaitForMail: an agent waiting for the next matching message or one-time code.

Woken by the inbound pipeline's `mail_arrived` signal (no database polling). Mail that
arrived after `since` but before the wait started is found by one query at the start. The API
blocks in the `result` update, which returns as soon as the wait ends (PERFORMANCE.md: an
update the client is blocked in wakes faster than awaiting a workflow result).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.waits import WaitActivities
    from contracts.inbound import MailSummary
    from contracts.waits import (
        SIGNAL_MAIL_ARRIVED,
        UPDATE_RESULT,
        FinishWaitInput,
        WaitInput,
        WaitResult,
        matches,
        otp_of_summary,
    )

_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10))


@workflow.defn(name="WaitForMail")
class WaitForMailWorkflow:
    def __init__(self) -> None:
        self._input: WaitInput | None = None
        self._result: WaitResult | None = None
        self._finished = False

    @workflow.run
    async def run(self, inp: WaitInput) -> WaitResult:
        self._input = inp
        existing = await workflow.execute_local_activity_method(
            WaitActivities.find_existing, inp, start_to_close_timeout=timedelta(seconds=30),
            retry_policy=_RETRY,
        )  # fmt: skip
        if self._result is None and existing.status == "matched":
            self._result = existing
        remaining = (inp.expires_at - workflow.now()).total_seconds()
        if self._result is None and remaining > 0:
            try:
                await workflow.wait_condition(lambda: self._result is not None, timeout=remaining)
            except TimeoutError:
                pass
        if self._result is None:
            self._result = WaitResult(wait_id=inp.wait_id, status="timed_out")
        await workflow.execute_local_activity_method(
            WaitActivities.finish,
            FinishWaitInput(wait_id=inp.wait_id, status=self._result.status,
                            message_id=self._result.message_id),
            start_to_close_timeout=timedelta(seconds=30), retry_policy=_RETRY,
        )  # fmt: skip
        self._finished = True
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._result

    @workflow.signal(name=SIGNAL_MAIL_ARRIVED)
    def mail_arrived(self, summary: MailSummary) -> None:
        inp = self._input
        if self._result is None and inp is not None and matches(inp.kind, inp.filters, summary, inp.since):
            # The code travels in the result: the API answers an OTP wait without a read.
            otp = otp_of_summary(summary) if inp.kind == "otp" else None
            self._result = WaitResult(wait_id=inp.wait_id, status="matched",
                                      message_id=summary.message_id, otp=otp)  # fmt: skip

    @workflow.update(name=UPDATE_RESULT)
    async def result(self) -> WaitResult:
        """Returns once the wait has ended (matched or timed out)."""
        await workflow.wait_condition(lambda: self._result is not None)
        assert self._result is not None
        return self._result

    @workflow.query(name="get_state")
    def get_state(self) -> WaitResult | None:
        return self._result
