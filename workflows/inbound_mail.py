"""InboundMail: the pipeline every accepted message runs through, started by the ingress.

Only references travel through history (the message id); bodies stay in the database and
the blob store.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.messages import MessageActivities
    from contracts.inbound import (
        InboundMailInput,
        InboundMailResult,
        SetPipelineStateInput,
    )

# 👉 Parsing is deterministic: a message that fails it will fail again, so the activity raises
# a non-retryable error for that case and Temporal retries only infrastructure faults.
_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


@workflow.defn(name="InboundMail")
class InboundMailWorkflow:
    @workflow.run
    async def run(self, inp: InboundMailInput) -> InboundMailResult:
        await workflow.execute_activity_method(
            MessageActivities.parse_message,
            inp,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=_RETRY,
        )
        await workflow.execute_activity_method(
            MessageActivities.set_pipeline_state,
            SetPipelineStateInput(message_id=inp.message_id, state="done"),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=_RETRY,
        )
        return InboundMailResult(message_id=inp.message_id, state="done")
