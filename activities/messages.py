"""Message activities: parse stored raw MIME into the message row, and pipeline bookkeeping."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from temporalio import activity
from temporalio.exceptions import ApplicationError

from contracts.errors import NOT_FOUND
from contracts.inbound import InboundMailInput, ParseMessageResult, SetPipelineStateInput

if TYPE_CHECKING:
    from activities.deps import ActivityDeps


class MessageActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn(name="messages.parse_message")
    async def parse_message(self, inp: InboundMailInput) -> ParseMessageResult:
        from mailparse.parse import parse_message
        from store import messages
        from store.errors import NotFound
        from store.parsed import ParsedFields, store_parsed

        async with self.deps.sessionmaker() as session:
            try:
                msg = await messages.get_for_pipeline(session, inp.message_id)
            except NotFound as exc:  # deleted before the pipeline ran: nothing to do, ever
                raise ApplicationError(str(exc), type=NOT_FOUND, non_retryable=True) from exc
            raw_sha = msg.raw_sha256
        assert raw_sha is not None
        raw = await asyncio.to_thread(self.deps.blobs.get, raw_sha)
        # Parsing is CPU work; keep it off the event loop that heartbeats other activities.
        parsed = await asyncio.to_thread(parse_message, raw)
        fields = ParsedFields.from_parsed(parsed)
        for att in parsed.attachments:
            await asyncio.to_thread(self.deps.blobs.put, att.content)
        async with self.deps.sessionmaker.begin() as session:
            await store_parsed(session, inp.message_id, fields)
            await messages.set_pipeline_state(session, inp.message_id, "parsed")
        return ParseMessageResult(
            message_id=inp.message_id,
            attachment_count=len(parsed.attachments),
            defects=list(parsed.defects),
        )

    @activity.defn(name="messages.set_pipeline_state")
    async def set_pipeline_state(self, inp: SetPipelineStateInput) -> None:
        from store import messages

        async with self.deps.sessionmaker.begin() as session:
            await messages.set_pipeline_state(
                session, inp.message_id, inp.state, workflow_id=inp.workflow_id
            )
