"""The public shape of mail: what the API returns and what `message.received` events carry.

One definition for both, so a webhook consumer sees exactly what `GET /v1/messages/{id}` shows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AddressView(BaseModel):
    name: str
    email: str


class AttachmentView(BaseModel):
    id: str
    filename: str
    content_type: str
    size: int
    sha256: str
    inline: bool
    content_id: str | None


class OtpCodeView(BaseModel):
    code: str
    # False when the message failed DMARC; None until authentication has finished.
    trusted: bool | None


class ExtractedView(BaseModel):
    otp_codes: list[OtpCodeView] = []
    verification_links: list[str] = []
    magic_links: list[str] = []
    backup_codes: list[str] = []
    code_expiry_seconds: int | None = None


class PromptInjectionView(BaseModel):
    """How likely the message tries to manipulate an AI reader (0–1; flagged from 0.5)."""

    score: float
    flagged: bool
    reasons: list[str]
    llm_checked: bool = False


class MessageSummaryView(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    inbox_id: str
    thread_id: str | None
    direction: str
    status: str
    pipeline_state: str
    subject: str
    from_: AddressView = Field(alias="from")
    to: list[AddressView]
    snippet: str
    category: str | None
    labels: list[str]
    has_attachments: bool
    is_read: bool
    is_starred: bool
    is_archived: bool
    received_at: datetime
    workflow_id: str | None
    # Search issue: the injection screening of every inbound message, and the one-line LLM summary.
    prompt_injection: PromptInjectionView | None = None
    summary: str | None = None


class MessageView(MessageSummaryView):
    message_id: str | None
    in_reply_to: str | None
    references: list[str]
    cc: list[AddressView]
    reply_to: list[AddressView]
    envelope_from: str
    envelope_to: list[str]
    headers: list[list[str]]
    text: str | None
    html: str | None
    stripped_text: str | None
    size: int
    sent_at: datetime | None
    extracted: ExtractedView
    authentication_results: dict[str, Any] | None
    attachments: list[AttachmentView]
    # Structured extraction into the inbox's schema (extraction_error when it finally failed).
    extracted_data: dict[str, Any] | None = None
    extraction_error: str | None = None


class ThreadView(BaseModel):
    id: str
    inbox_id: str
    subject: str
    participants: list[str]
    message_count: int
    last_message_at: datetime
    snippet: str
    last_direction: str
    has_attachments: bool
    created_at: datetime


class ThreadWithMessagesView(ThreadView):
    messages: list[MessageView]
