"""Follow-up sequences: `POST /v1/sequences` sends up to 10 mails on one thread, each after its
delay, and stops at the first reply (`FollowUp/{sequence_id}`); read and cancel them."""

from __future__ import annotations

from datetime import datetime

from litestar import Controller, get, post
from litestar.datastructures import State
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from api.audit import audit_action
from api.auth import Principal, requires
from contracts.outbound import FollowUpInput
from contracts.sending import Addresses, Body, _Strict
from outbound import compose
from store import inboxes
from store.base import new_id
from store.errors import Invalid, NotFound
from store.models import FollowUpSequence
from workflows import ids
from workflows.follow_up import SIGNAL_CANCEL, FollowUpWorkflow

MAX_STEPS = 10


class StepIn(_Strict):
    delay_seconds: float = Field(ge=0, le=3650 * 86400, description="After the previous step")
    subject: str | None = Field(None, max_length=998)
    text: Body = None
    html: Body = None


class SequenceCreate(_Strict):
    inbox_id: str = Field(max_length=64)
    to: Addresses
    subject: str = Field(max_length=998)
    steps: list[StepIn] = Field(min_length=1, max_length=MAX_STEPS)


class SequenceView(BaseModel):
    id: str
    inbox_id: str
    thread_id: str | None
    status: str
    recipients: list[str]
    subject: str
    steps: int
    sent_message_ids: list[str]
    workflow_id: str
    created_at: datetime

    @classmethod
    def of(cls, s: FollowUpSequence) -> SequenceView:
        return cls(id=s.id, inbox_id=s.inbox_id, thread_id=s.thread_id, status=s.status,
                   recipients=list(s.recipients), subject=s.subject, steps=len(s.steps),
                   sent_message_ids=list(s.sent_message_ids), workflow_id=s.workflow_id,
                   created_at=s.created_at)  # fmt: skip


async def _get(db: AsyncSession, principal: Principal, sequence_id: str) -> FollowUpSequence:
    seq = await db.scalar(select(FollowUpSequence).where(
        FollowUpSequence.id == sequence_id,
        principal.scope.owns_inbox_column(FollowUpSequence.org_id, FollowUpSequence.inbox_id)))
    if seq is None:
        raise NotFound("sequence not found", field="sequence_id")
    return seq


class SequenceController(Controller):
    path = "/v1/sequences"
    tags = ["sending"]

    @post("/", guards=[requires("mail.send")], status_code=202,
          summary="Start a follow-up sequence (stops at the first reply)")  # fmt: skip
    async def create(self, data: SequenceCreate, state: State, principal: Principal) -> SequenceView:
        try:
            to = [e for _, e in compose.parse_addresses(data.to, "to")]
            subject = compose.one_line(data.subject, "subject")
        except compose.ComposeError as exc:
            raise Invalid(exc.message, field=exc.field) from None
        for i, step in enumerate(data.steps):
            if step.text is None and step.html is None:
                raise Invalid("give text and/or html", field=f"steps[{i}].text")
        async with state.sessionmaker.begin() as db:
            inbox = await inboxes.get_inbox(db, principal.scope, data.inbox_id)
            seq_id = new_id("seq")
            seq = FollowUpSequence(
                id=seq_id, org_id=inbox.org_id, inbox_id=inbox.id, api_key_id=principal.key_id,
                recipients=to, subject=subject, status="running", sent_message_ids=[],
                steps=[s.model_dump(exclude={"delay_seconds"}) for s in data.steps],
                workflow_id=ids.follow_up(seq_id),
            )  # fmt: skip
            db.add(seq)
            audit_action(db, principal, "sequence.create", resource_type="sequence", resource_id=seq_id)
            await db.flush()
            view = SequenceView.of(seq)
        client = await state.temporal.get()
        await client.start_workflow(
            FollowUpWorkflow.run,
            FollowUpInput(sequence_id=seq_id, delays_seconds=[s.delay_seconds for s in data.steps]),
            id=ids.follow_up(seq_id), task_queue=state.settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )  # fmt: skip
        return view

    @get("/{sequence_id:str}", guards=[requires("mail.read")], summary="A sequence and what it sent")
    async def read(self, sequence_id: str, db: AsyncSession, principal: Principal) -> SequenceView:
        return SequenceView.of(await _get(db, principal, sequence_id))

    @post("/{sequence_id:str}/cancel", guards=[requires("mail.send")], status_code=200,
          summary="Stop a sequence (steps already sent stay sent)")  # fmt: skip
    async def cancel(self, sequence_id: str, db: AsyncSession, principal: Principal,
                     state: State) -> SequenceView:  # fmt: skip
        seq = await _get(db, principal, sequence_id)
        if seq.status == "running":
            client = await state.temporal.get()
            try:
                await client.get_workflow_handle(seq.workflow_id).signal(SIGNAL_CANCEL)
            except RPCError:
                pass
            seq.status = "canceled"
            audit_action(db, principal, "sequence.cancel", resource_type="sequence", resource_id=seq.id)
        return SequenceView.of(seq)
