"""Payloads of the inbound mail pipeline."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class InboundMailInput(BaseModel):
    message_id: str


class MailSummary(BaseModel):
    """What a waiter needs to decide whether a message is the one it waits for."""

    message_id: str
    org_id: str
    inbox_id: str
    thread_id: str | None
    from_address: str
    from_name: str
    subject: str
    category: str | None
    has_otp: bool
    received_at: datetime
    # The codes themselves, so an OTP wait is answered from the wake-up alone (the pipeline
    # wakes waits right after extraction, before the message row is even written).
    otp_codes: list[str] = []
    code_expiry_seconds: int | None = None


class ProcessResult(BaseModel):
    summary: MailSummary
    thread_created: bool
    attachment_count: int
    defects: list[str]
    # Events written (thread.created), for webhook dispatch; empty in histories from before.
    event_ids: list[str] = []
    # Waits woken by process itself (histories from before ran a notify_waits step instead).
    woken: list[str] = []


class NotifyWaitsResult(BaseModel):
    woken: list[str]


class AuthenticateResult(BaseModel):
    message_id: str
    dmarc: str
    spf: str
    dkim: str
    event_ids: list[str] = []  # message.received, for webhook dispatch


class InboundMailResult(BaseModel):
    message_id: str
    thread_id: str | None
    category: str | None
    woken_waits: list[str]
