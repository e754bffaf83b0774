"""Request and response shapes of the webhook API, and the URL check every endpoint URL
passes (shape here, then the engine's SSRF policy in `egress.check_url`). Shared by the
webhook routes and the per-inbox `webhook` shortcut of the inbox routes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.errors import ApiError
from contracts import errors
from contracts.events import EVENT_TYPES
from egress import UnsafeTarget, check_url
from settings import Settings
from store.models import WebhookEndpoint

TYPES_HELP = "event types to receive (see GET /v1/events/types); empty: every type"
INBOXES_HELP = "only events of these inboxes; null: every inbox, including future ones"


def url_shape(value: str) -> str:
    try:
        value.encode()  # a lone surrogate cannot be sent (nor stored)
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises on a malformed port)
    except ValueError as exc:
        raise ValueError("not a valid URL") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute https:// URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not contain credentials (they would be shown to every reader)")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must not contain whitespace or control characters")
    return value


def known_types(value: list[str]) -> list[str]:
    bad = [t for t in value if t not in EVENT_TYPES]
    if bad:
        raise ValueError(
            f"unknown event types: {', '.join(t[:60] for t in bad)}; see GET /v1/events/types"
        )
    return list(dict.fromkeys(value))


def not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("must not be null")
    return value


def checked_url(url: str, settings: Settings, field: str = "url") -> str:
    """422 naming `field` when the egress policy refuses the target (private, loopback, http)."""
    try:
        check_url(url, settings)
    except UnsafeTarget as exc:
        raise ApiError(422, errors.VALIDATION_ERROR, f"webhook URL refused: {exc}",
                       [{"field": field, "message": str(exc)}]) from exc  # fmt: skip
    return url


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=2048, description="https:// URL receiving the events")
    description: str = Field("", max_length=500)
    event_types: list[str] = Field(default_factory=list, max_length=100, description=TYPES_HELP)
    inbox_ids: list[str] | None = Field(
        None, min_length=1, max_length=1000, description=INBOXES_HELP
    )
    enabled: bool = True

    _url = field_validator("url")(url_shape)
    _types = field_validator("event_types")(known_types)


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(None, max_length=2048)
    description: str | None = Field(None, max_length=500)
    event_types: list[str] | None = Field(None, max_length=100, description=TYPES_HELP)
    inbox_ids: list[str] | None = Field(
        None, min_length=1, max_length=1000, description=INBOXES_HELP
    )
    enabled: bool | None = None

    _present = field_validator("url", "description", "event_types", "enabled", mode="before")(
        not_null
    )
    _url = field_validator("url")(url_shape)
    _types = field_validator("event_types")(known_types)


class InboxWebhook(BaseModel):
    """The per-inbox shortcut: an endpoint filtered to this inbox."""

    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=2048)
    event_types: list[str] = Field(default_factory=list, max_length=100, description=TYPES_HELP)

    _url = field_validator("url")(url_shape)
    _types = field_validator("event_types")(known_types)


class RotateSecret(BaseModel):
    model_config = ConfigDict(extra="forbid")
    overlap_hours: float | None = Field(
        None,
        ge=0,
        le=720,
        description="how long the old secret keeps signing (default: the server's)",
    )


class WebhookOut(BaseModel):
    id: str
    url: str
    description: str
    event_types: list[str]
    inbox_ids: list[str] | None
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    consecutive_failures: int
    previous_secret_expires_at: datetime | None = Field(
        description="until then deliveries are signed with the previous secret too"
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, e: WebhookEndpoint) -> WebhookOut:
        return cls(
            id=e.id, url=e.url, description=e.description, event_types=list(e.event_types or []),
            inbox_ids=e.inbox_ids, enabled=e.enabled, disabled_reason=e.disabled_reason,
            failing_since=e.failing_since, consecutive_failures=e.consecutive_failures or 0,
            previous_secret_expires_at=e.previous_secret_expires_at, created_at=e.created_at,
            updated_at=e.updated_at,
        )  # fmt: skip


class WebhookCreated(WebhookOut):
    secret: str = Field(description="The signing secret (whsec_…). Shown once; stored sealed.")

    @classmethod
    def with_secret(cls, e: WebhookEndpoint, secret: str) -> WebhookCreated:
        return cls(**WebhookOut.of(e).model_dump(), secret=secret)
