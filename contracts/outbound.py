"""Payloads of the OutboundMail and FollowUp workflows: references and decisions only (message
ids, recipients' outcomes, times), never mail bodies, which stay in the blob store."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

# Update and signal names, shared by the workflow and the API that calls them.
UPDATE_CANCEL = "cancel"
UPDATE_RESCHEDULE = "reschedule"
UPDATE_APPROVE = "approve"
UPDATE_REJECT = "reject"
SIGNAL_THREAD_REPLIED = "thread_replied"

# Error types (ApplicationError.type == API error code).
ALREADY_HANDED_OFF = "already_handed_off"
NOT_AWAITING_APPROVAL = "not_awaiting_approval"
ALREADY_FINISHED = "already_finished"

FinalStatus = Literal["sent", "captured", "canceled", "failed", "suppressed"]


class OutboundMailInput(BaseModel):
    message_id: str


class SendPlan(BaseModel):
    """What the workflow needs to know about a send, read once by `outbound.load_plan`."""

    message_id: str
    org_id: str
    inbox_id: str
    thread_id: str | None
    status: str
    api_key_id: str | None
    send_at: datetime | None
    requires_approval: bool
    approval_expiry_seconds: float
    unless_replied: bool
    retry_schedule_seconds: list[float]
    retry_period_seconds: float
    deliverable: int = 0  # recipients the send policy lets through (checked while loading)


class MarkInput(BaseModel):
    message_id: str
    status: str  # awaiting_approval | scheduled | queued | sending | deferred
    event: str | None = None  # catalogue type or delivery event type to record
    detail: str | None = None
    send_at: datetime | None = None


class DeliverInput(BaseModel):
    message_id: str
    attempt: int


class DeliverResult(BaseModel):
    accepted: list[str] = []
    deferred: list[str] = []
    failed: list[str] = []
    remaining: int = 0  # recipients still pending/deferred after this attempt
    error: str | None = None
    route: str = ""


class FinishInput(BaseModel):
    message_id: str
    status: FinalStatus
    reason: str | None = None


class CancelInput(BaseModel):
    reason: str = "canceled"
    actor_key_id: str | None = None


class RescheduleInput(BaseModel):
    send_at: datetime


class ApproveInput(BaseModel):
    approver_key_id: str
    approver_user_id: str | None = None


class RejectInput(BaseModel):
    approver_key_id: str
    reason: str | None = None


class DecisionResult(BaseModel):
    status: str  # the message's status after the decision
    send_at: datetime | None = None


class OutboundState(BaseModel):
    """The workflow's live state (query `get_state`)."""

    message_id: str = ""
    phase: str = "starting"  # starting|awaiting_approval|scheduled|sending|retrying|done
    send_at: datetime | None = None
    attempts: int = 0
    handed_off: bool = False
    final_status: str | None = None


class OutboundMailResult(BaseModel):
    message_id: str
    status: str
    attempts: int


class ThreadRepliedInput(BaseModel):
    thread_id: str
    message_id: str


class FindConditionalInput(BaseModel):
    thread_id: str | None
    message_id: str


class FindConditionalResult(BaseModel):
    workflow_ids: list[str] = []


class FollowUpInput(BaseModel):
    sequence_id: str
    # Only the delays travel in history; the steps' bodies stay in the database.
    delays_seconds: list[float]


class FollowUpStepInput(BaseModel):
    sequence_id: str
    index: int


class FollowUpStepResult(BaseModel):
    message_id: str | None = None
    skipped: bool = False


class FollowUpFinishInput(BaseModel):
    sequence_id: str
    status: str


class FollowUpResult(BaseModel):
    sequence_id: str
    status: str
    sent: int
