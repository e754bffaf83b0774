"""Payloads of webhook delivery: dispatching events to endpoints and attempting a delivery.

The delivery policy (schedule, timeout, limits) travels in the workflow input, fixed when the
delivery is dispatched, so workflow code never reads settings and tests can pass short delays.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

SCHEDULE_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
FinalStatus = Literal["succeeded", "failed", "canceled"]


class DispatchInput(BaseModel):
    event_ids: list[str]


class DispatchResult(BaseModel):
    delivery_ids: list[str]


class DeliveryPolicy(BaseModel):
    # Delays between attempts: len(schedule_seconds) + 1 attempts in all.
    schedule_seconds: list[float]
    jitter: float = 0.1  # each delay is scaled by a factor in [1 - jitter, 1 + jitter]
    timeout_seconds: float = 15.0
    disable_after_seconds: float = 5 * 86400.0  # endpoint failing continuously this long
    max_retry_after_seconds: float = 86400.0  # a receiver's Retry-After is capped here


class DeliverWebhookInput(BaseModel):
    delivery_id: str
    policy: DeliveryPolicy


class AttemptInput(BaseModel):
    delivery_id: str
    attempt: int  # 1-based, within this run of the workflow
    policy: DeliveryPolicy
    # The schedule's (jittered) delay before the next attempt; None when this is the last.
    planned_delay_seconds: float | None = None


class AttemptResult(BaseModel):
    # success: 2xx. retry: network error, timeout, refused target, 3xx, 5xx, 429, other 4xx.
    # gone: 410 (disable the endpoint). skipped: endpoint deleted or disabled before the attempt.
    outcome: Literal["success", "retry", "gone", "skipped"]
    status_code: int | None = None
    retry_after_seconds: float | None = None
    error: str | None = None
    # How long to sleep before the next attempt (schedule, stretched by Retry-After); None: stop.
    next_delay_seconds: float | None = None
    # Set when this failure makes the endpoint's failure streak longer than allowed.
    disable_reason: str | None = None


class FinishDeliveryInput(BaseModel):
    delivery_id: str
    status: FinalStatus
    disable_endpoint_reason: str | None = None


class FinishDeliveryResult(BaseModel):
    # Events the finish wrote (webhook.endpoint_disabled), already dispatched.
    event_ids: list[str]


class DeliverWebhookResult(BaseModel):
    delivery_id: str
    status: str
    attempts: int


class DeliveryState(BaseModel):
    """The live state of one delivery workflow (query `get_state`)."""

    delivery_id: str
    status: Literal["pending", "succeeded", "failed", "canceled"] = "pending"
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = None
    next_attempt_at: datetime | None = None


def parse_schedule(spec: str) -> list[float]:
    """`"5s,5m,30m,2h"` → seconds; ValueError naming the bad item."""
    delays = []
    for item in (i.strip().lower() for i in spec.split(",")):
        if not item:
            continue
        unit = next((u for u in ("ms", "s", "m", "h", "d") if item.endswith(u)), "")
        number = item[: len(item) - len(unit)] if unit else item
        try:
            value = float(number) * SCHEDULE_UNITS.get(unit, 1.0)
        except ValueError:
            raise ValueError(
                f"webhook_retry_schedule: {item!r} is not a duration like 5s or 2h"
            ) from None
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"webhook_retry_schedule: {item!r} is not a finite, positive delay")
        delays.append(value)
    return delays
