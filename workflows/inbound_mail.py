"""InboundMail: the pipeline every accepted message runs through, started by the ingress.

process (parse, extract codes and links, categorise, thread, record events) → wake the
inbox's waits → authenticate (SPF/DKIM/DMARC). Waking comes before authentication so a
waiting agent never waits on DNS; codes are marked trusted/untrusted when the verdict lands.
Only references travel through history (the message id); bodies stay in the database and
the blob store.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.inbound import InboundActivities
    from contracts.errors import NOT_FOUND
    from contracts.inbound import InboundMailInput, InboundMailResult

# 👉 Local activities: the pipeline's steps run in the worker that holds the workflow task, so
# a message costs one workflow task round trip instead of one per step (PERFORMANCE.md).
_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=[NOT_FOUND],
)


@workflow.defn(name="InboundMail")
class InboundMailWorkflow:
    @workflow.run
    async def run(self, inp: InboundMailInput) -> InboundMailResult:
        processed = await workflow.execute_local_activity_method(
            InboundActivities.process, inp, start_to_close_timeout=timedelta(seconds=60),
            retry_policy=_RETRY,
        )  # fmt: skip
        woken = await workflow.execute_local_activity_method(
            InboundActivities.notify_waits, processed.summary,
            start_to_close_timeout=timedelta(seconds=30), retry_policy=_RETRY,
        )  # fmt: skip
        await workflow.execute_local_activity_method(
            InboundActivities.authenticate, inp, start_to_close_timeout=timedelta(seconds=30),
            retry_policy=_RETRY,
        )  # fmt: skip
        return InboundMailResult(
            message_id=inp.message_id, thread_id=processed.summary.thread_id,
            category=processed.summary.category, woken_waits=woken.woken,
        )  # fmt: skip
