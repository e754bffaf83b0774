"""Waits for mail and one-time codes: inputs, results and the matching rule.

`matches` is pure and deterministic, so the WaitForMail workflow, the activity that looks for
mail that arrived before the wait started, and the pipeline's wake-up all agree on it.
Semantics: broadcast — one message satisfies every active wait it matches, not only the first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.inbound import MailSummary

SIGNAL_MAIL_ARRIVED = "mail_arrived"
UPDATE_RESULT = "result"

WaitKind = Literal["mail", "otp"]
WaitStatus = Literal["active", "matched", "timed_out", "canceled"]


class WaitFilters(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str | None = Field(None, alias="from", max_length=320)
    subject: str | None = Field(None, max_length=500)
    category: str | None = Field(None, max_length=30)
    has_otp: bool | None = None


class WaitInput(BaseModel):
    wait_id: str
    org_id: str
    inbox_id: str
    kind: WaitKind
    filters: WaitFilters
    since: datetime
    expires_at: datetime


class WaitOtp(BaseModel):
    """The code an OTP wait was woken with: enough to answer without reading the message."""

    code: str
    all_codes: list[str]
    from_address: str
    subject: str
    received_at: datetime
    code_expiry_seconds: int | None = None
    trusted: bool | None = None  # None: woken before authentication finished


class WaitResult(BaseModel):
    wait_id: str
    status: WaitStatus
    message_id: str | None = None
    otp: WaitOtp | None = None  # set for OTP waits woken by the pipeline


def otp_of_summary(m: MailSummary) -> WaitOtp | None:
    if not m.otp_codes:
        return None
    return WaitOtp(
        code=m.otp_codes[0], all_codes=list(m.otp_codes), from_address=m.from_address,
        subject=m.subject, received_at=m.received_at, code_expiry_seconds=m.code_expiry_seconds,
    )  # fmt: skip


class FinishWaitInput(BaseModel):
    wait_id: str
    status: WaitStatus
    message_id: str | None = None


def matches(kind: WaitKind, f: WaitFilters, m: MailSummary, since: datetime) -> bool:
    if m.received_at < since:
        return False
    if (kind == "otp" or f.has_otp) and not m.has_otp:
        return False
    if f.has_otp is False and m.has_otp:
        return False
    if f.from_:
        needle = f.from_.casefold()
        if needle not in m.from_address.casefold() and needle not in m.from_name.casefold():
            return False
    if f.subject and f.subject.casefold() not in m.subject.casefold():
        return False
    return not (f.category and f.category != m.category)
