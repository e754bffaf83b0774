"""InboundMail: the pipeline every accepted message runs through, started by the ingress.

process (parse, extract codes and links, categorise, thread, record events) → wake the
inbox's waits → dispatch webhooks (thread.created) → authenticate (SPF/DKIM/DMARC, record
message.received) → dispatch webhooks (message.received). Waking comes first so a waiting
agent never waits on DNS or webhooks; codes are marked trusted/untrusted when the verdict lands.
Only references travel through history (the message id); bodies stay in the database and
the blob store.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.inbound import InboundActivities
    from activities.webhooks import WebhookActivities
    from contracts.errors import NOT_FOUND
    from contracts.inbound import InboundMailInput, InboundMailResult
    from contracts.webhooks import DispatchInput

# 👉 Local activities: the pipeline's steps run in the worker that holds the workflow task, so
# a message costs one workflow task round trip instead of one per step (PERFORMANCE.md).
_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=[NOT_FOUND],
)
PATCH_WEBHOOK_DISPATCH = "webhook-dispatch"


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
        await self._dispatch(processed.event_ids)
        authenticated = await workflow.execute_local_activity_method(
            InboundActivities.authenticate, inp, start_to_close_timeout=timedelta(seconds=30),
            retry_policy=_RETRY,
        )  # fmt: skip
        await self._dispatch(authenticated.event_ids)
        return InboundMailResult(
            message_id=inp.message_id, thread_id=processed.summary.thread_id,
            category=processed.summary.category, woken_waits=woken.woken,
        )  # fmt: skip

    async def _dispatch(self, event_ids: list[str]) -> None:
        """Start the webhook deliveries of the events a step wrote (after waking waits, which
        must not wait on it). Histories from before webhooks carry no event ids: nothing runs."""
        if event_ids and workflow.patched(PATCH_WEBHOOK_DISPATCH):
            await workflow.execute_local_activity_method(
                WebhookActivities.dispatch, DispatchInput(event_ids=event_ids),
                start_to_close_timeout=timedelta(seconds=30), retry_policy=_RETRY,
            )  # fmt: skip
