"""Request and response shapes of sending: compose, reply, forward, cancel, reschedule,
approve/reject, uploads, SMTP configs. Shared by the REST routes and the MCP tools."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from contracts.messages import MessageView

MAX_BODY = 1_000_000


def _no_nul(value: str | None) -> str | None:
    if value is not None and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Body = Annotated[str | None, Field(None, max_length=MAX_BODY), AfterValidator(_no_nul)]
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_]+$")]
Addresses = str | list[Annotated[str, Field(max_length=400)]]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul_anywhere(cls, value: object) -> object:
        # PostgreSQL text (and JSONB) cannot hold NUL: refuse it in every string field.
        items = value if isinstance(value, list) else list(value.values()) if isinstance(value, dict) else [value]
        if any(isinstance(v, str) and "\x00" in v for v in items):
            raise ValueError("must not contain NUL characters")
        return value


class SendRequest(_Strict):
    inbox_id: Id
    to: Addresses | None = Field(None, description="An address or a list (`Name <a@b>` allowed)")
    cc: Addresses | None = None
    bcc: Addresses | None = None
    reply_to: Addresses | None = None
    subject: str = Field("", max_length=998)
    text: Body = None
    html: Body = None
    attachments: list[Id] = Field(default_factory=list, max_length=20,
                                  description="ids from POST /v1/attachments")  # fmt: skip
    thread_id: Id | None = Field(None, description="Continue this thread (threading headers set)")
    headers: dict[Annotated[str, Field(max_length=80)], Annotated[str, Field(max_length=998)]] | None = (
        Field(None, max_length=20, description="X-* and a few list/priority headers"))  # fmt: skip
    send_at: datetime | None = Field(None, description="Schedule (ISO 8601 with offset)")
    send_unless_replied: bool = Field(False, description="At send_at, skip it if the thread got a reply")
    require_approval: bool = Field(False, description="Hold for approval even if the inbox does not require it")


class ReplyRequest(_Strict):
    text: Body = None
    html: Body = None
    reply_all: bool = False
    attachments: list[Id] = Field(default_factory=list, max_length=20)
    headers: dict[Annotated[str, Field(max_length=80)], Annotated[str, Field(max_length=998)]] | None = (
        Field(None, max_length=20))  # fmt: skip
    send_at: datetime | None = None
    send_unless_replied: bool = False
    require_approval: bool = False


class ForwardRequest(_Strict):
    to: Addresses
    cc: Addresses | None = None
    comment: Body = None
    mode: Literal["inline", "attachment"] = Field(
        "inline", description="inline: quoted below the comment; attachment: as message/rfc822")
    send_at: datetime | None = None
    require_approval: bool = False


class RescheduleRequest(_Strict):
    send_at: datetime


class CancelRequest(_Strict):
    reason: str | None = Field(None, max_length=200)


class ApproveRequest(_Strict):
    subject: str | None = Field(None, max_length=998, description="Edit before approving")
    text: Body = None
    html: Body = None
    note: str | None = Field(None, max_length=500)


class RejectRequest(_Strict):
    reason: str | None = Field(None, max_length=500)


class RecipientView(BaseModel):
    address: str
    kind: str
    status: str
    route: str | None
    last_code: int | None
    last_response: str | None


class OutboundView(BaseModel):
    id: str
    inbox_id: str
    thread_id: str | None
    status: str
    send_at: datetime | None
    send_unless_replied: bool
    requires_approval: bool
    approval_state: str
    cancel_reason: str | None
    attempts: int
    workflow_id: str
    recipients: list[RecipientView]
    message: MessageView


class SendSettings(_Strict):
    signature_text: str | None = Field(None, max_length=10_000)
    signature_html: str | None = Field(None, max_length=50_000)
    require_approval: bool | None = None
    approval_expiry_hours: float | None = Field(None, gt=0, le=24 * 365)


class UploadJson(_Strict):
    filename: str = Field(min_length=1, max_length=255)
    content: str = Field(description="base64")
    content_type: str | None = Field(None, max_length=255, description="Checked by sniffing")


class UploadView(BaseModel):
    id: str
    filename: str
    content_type: str
    size: int
    sha256: str


class SmtpConfigCreate(_Strict):
    name: str = Field("", max_length=200)
    host: str = Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.\-:\[\]]+$")
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = Field(None, max_length=320)
    password: str | None = Field(None, max_length=1000)
    is_default: bool = False


class SmtpConfigView(BaseModel):
    id: str
    name: str
    host: str
    port: int
    security: str
    username: str | None
    password: str | None = Field(description="Masked: '********' when one is stored")
    is_default: bool
    created_at: datetime


class SmtpTestResult(BaseModel):
    ok: bool
    code: int | None
    message: str
