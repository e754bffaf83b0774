"""Payloads of webhook delivery: dispatching events to endpoints and attempting a delivery."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class DispatchInput(BaseModel):
    event_ids: list[str]


class DispatchResult(BaseModel):
    delivery_ids: list[str]


class DeliverWebhookInput(BaseModel):
    delivery_id: str


class AttemptInput(BaseModel):
    delivery_id: str
    attempt: int  # 1-based


class AttemptResult(BaseModel):
    # success: 2xx. retry: network error, timeout, 5xx, 429, other 4xx. gone: 410 (disable the
    # endpoint). skipped: endpoint deleted or disabled before the attempt.
    outcome: Literal["success", "retry", "gone", "skipped"]
    status_code: int | None = None
    retry_after_seconds: float | None = None
    error: str | None = None


class FinishDeliveryInput(BaseModel):
    delivery_id: str
    status: Literal["succeeded", "failed", "canceled"]
    disable_endpoint_reason: str | None = None


class DeliverWebhookResult(BaseModel):
    delivery_id: str
    status: str
    attempts: int
