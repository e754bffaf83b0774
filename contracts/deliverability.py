"""Payloads of the deliverability step of the inbound pipeline (bounces and complaints)."""

from __future__ import annotations

from pydantic import BaseModel


class DeliveryReportInput(BaseModel):
    message_id: str  # the inbound message that may be a report


class DeliveryReportResult(BaseModel):
    kind: str | None = None  # "bounce" | "complaint" | None (ordinary mail)
    # The outbound message the report is about, when it was found in the same organization.
    original_message_id: str | None = None
    recorded: list[str] = []  # "bounced:addr", "deferred:addr", "complained:addr"
    suppressed: list[str] = []
    event_ids: list[str] = []  # catalogue events written, for webhook dispatch
