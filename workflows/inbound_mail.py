"""InboundMail: the pipeline every accepted message runs through, started by the ingress.

process (parse, extract codes and links — OTP waits are woken here, before anything is
written — then categorise, thread, record events, and wake the other waits) → authenticate
(SPF/DKIM/DMARC, record message.received) → dispatch webhooks (thread.created and
message.received). Waking comes first so a waiting agent never waits on the database, DNS or
webhooks; codes are marked trusted/untrusted when the verdict lands.
Only references travel through history (the message id); bodies stay in the database and
the blob store.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.deliverability import DeliverabilityActivities
    from activities.follow_up import FollowUpActivities
    from activities.inbound import InboundActivities
    from activities.ai import ENRICH_ATTEMPTS, AiActivities
    from activities.indexing import IndexingActivities
    from activities.webhooks import WebhookActivities
    from contracts.deliverability import DeliveryReportInput
    from contracts.errors import NOT_FOUND
    from contracts.outbound import FindConditionalInput
    from contracts.inbound import InboundMailInput, InboundMailResult, NotifyWaitsResult
    from contracts.search import MessageRef
    from contracts.webhooks import DispatchInput

# 👉 Local activities: the pipeline's steps run in the worker that holds the workflow task, so
# a message costs one workflow task round trip instead of one per step (PERFORMANCE.md).
_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=[NOT_FOUND],
)
PATCH_WEBHOOK_DISPATCH = "webhook-dispatch"
# process wakes the waits (no notify_waits step); one webhook dispatch after authenticate.
PATCH_WAKE_IN_PROCESS = "wake-in-process"
PATCH_DELIVERY_REPORTS = "delivery-reports"
# Injection screening before authenticate (so message.received carries it); search indexing
# and the LLM steps (summary, extraction) last. A failure there never fails the pipeline.
PATCH_SEARCH_INDEX = "search-index"
# Replies wake conditional sends (send_unless_replied) and follow-up sequences of the thread.
PATCH_CONDITIONAL_SENDS = "conditional-sends"


@workflow.defn(name="InboundMail")
class InboundMailWorkflow:
    @workflow.run
    async def run(self, inp: InboundMailInput) -> InboundMailResult:
        processed = await workflow.execute_local_activity_method(
            InboundActivities.process, inp, start_to_close_timeout=timedelta(seconds=60),
            retry_policy=_RETRY,
        )  # fmt: skip
        held_events: list[str] = []
        if workflow.patched(PATCH_WAKE_IN_PROCESS):
            # process woke the waits itself (OTP waits right after extraction); thread.created
            # goes out with message.received, in one dispatch.
            woken = NotifyWaitsResult(woken=processed.woken)
            held_events = list(processed.event_ids)
        else:
            woken = await workflow.execute_local_activity_method(
                InboundActivities.notify_waits, processed.summary,
                start_to_close_timeout=timedelta(seconds=30), retry_policy=_RETRY,
            )  # fmt: skip
            await self._dispatch(processed.event_ids)
        if processed.summary.thread_id and workflow.patched(PATCH_CONDITIONAL_SENDS):
            # A reply on the thread: wake sends waiting `unless replied` and follow-ups.
            await workflow.execute_local_activity_method(
                FollowUpActivities.notify_replied,
                FindConditionalInput(thread_id=processed.summary.thread_id, message_id=inp.message_id),
                start_to_close_timeout=timedelta(seconds=30), retry_policy=_RETRY,
            )  # fmt: skip
        if workflow.patched(PATCH_SEARCH_INDEX):
            await workflow.execute_local_activity_method(
                AiActivities.screen, MessageRef(message_id=inp.message_id),
                start_to_close_timeout=timedelta(seconds=30), retry_policy=_RETRY,
            )  # fmt: skip
        authenticated = await workflow.execute_local_activity_method(
            InboundActivities.authenticate, inp, start_to_close_timeout=timedelta(seconds=30),
            retry_policy=_RETRY,
        )  # fmt: skip
        await self._dispatch(held_events + authenticated.event_ids)
        if workflow.patched(PATCH_DELIVERY_REPORTS):
            # Bounces and complaints: delivery events, suppressions, message.bounced ... (last:
            # nothing a waiting agent needs depends on it).
            report = await workflow.execute_local_activity_method(
                DeliverabilityActivities.process_report,
                DeliveryReportInput(message_id=inp.message_id),
                start_to_close_timeout=timedelta(seconds=30), retry_policy=_RETRY,
            )  # fmt: skip
            await self._dispatch(report.event_ids)
        if workflow.patched(PATCH_SEARCH_INDEX):
            await self._index_and_enrich(inp.message_id)
        return InboundMailResult(
            message_id=inp.message_id, thread_id=processed.summary.thread_id,
            category=processed.summary.category, woken_waits=woken.woken,
        )  # fmt: skip

    async def _index_and_enrich(self, message_id: str) -> None:
        ref = MessageRef(message_id=message_id)
        try:
            await workflow.execute_local_activity_method(
                IndexingActivities.index_message, ref, start_to_close_timeout=timedelta(minutes=5),
                retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=5),
            )  # fmt: skip
        except ActivityError:
            workflow.logger.warning("search indexing failed for %s", message_id)
        try:
            await workflow.execute_local_activity_method(
                AiActivities.enrich, ref, start_to_close_timeout=timedelta(minutes=10),
                retry_policy=RetryPolicy(initial_interval=timedelta(seconds=2),
                                         maximum_attempts=ENRICH_ATTEMPTS),
            )  # fmt: skip
        except ActivityError:
            workflow.logger.warning("AI enrichment failed for %s", message_id)

    async def _dispatch(self, event_ids: list[str]) -> None:
        """Start the webhook deliveries of the events a step wrote (after waking waits, which
        must not wait on it). Histories from before webhooks carry no event ids: nothing runs."""
        if event_ids and workflow.patched(PATCH_WEBHOOK_DISPATCH):
            await workflow.execute_local_activity_method(
                WebhookActivities.dispatch, DispatchInput(event_ids=event_ids),
                start_to_close_timeout=timedelta(seconds=30), retry_policy=_RETRY,
            )  # fmt: skip
