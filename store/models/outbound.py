"""Outbound mail state beside the shared `messages` row: idempotency keys, the send's
lifecycle (schedule, approval, transport), per-recipient hand-off state, BYO SMTP configs and
follow-up sequences. Raw MIME stays in the blob store; the message row holds what users read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, JSONType, utcnow


class IdempotencyKey(Base):
    """`Idempotency-Key` of a send: lives as long as its message (cascade), not 24 h."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("api_key_id", "key"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    api_key_id: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(255))
    operation: Mapped[str] = mapped_column(String(20))
    request_hash: Mapped[str] = mapped_column(String(64))
    # None while the first request is in flight; then the message it created.
    message_id: Mapped[str | None] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboundSend(Base):
    """One outbound message's send: what the OutboundMail workflow works from."""

    __tablename__ = "outbound_sends"

    message_id: Mapped[str] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    inbox_id: Mapped[str] = mapped_column(ForeignKey("inboxes.id", ondelete="CASCADE"), index=True)
    api_key_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    user_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    send_at: Mapped[datetime | None] = mapped_column(nullable=True)
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    approval_expiry_hours: Mapped[float] = mapped_column(default=24.0)
    # none | pending | approved | rejected | expired
    approval_state: Mapped[str] = mapped_column(String(20), default="none")
    approved_by_key_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    unless_replied: Mapped[bool] = mapped_column(Boolean, default=False)
    sequence_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    # The MIME's own sender domain (DKIM) and the SMTP config chosen at send time, if any.
    from_domain: Mapped[str] = mapped_column(String(253), default="")
    smtp_config_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    first_attempt_at: Mapped[datetime | None] = mapped_column(nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(nullable=True)
    handed_off_at: Mapped[datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OutboundRecipient(Base):
    """Per-recipient hand-off state; `in_doubt` is never re-sent (see activities/outbound.py)."""

    __tablename__ = "outbound_recipients"
    __table_args__ = (UniqueConstraint("message_id", "address"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(5))  # to | cc | bcc
    # pending | in_doubt | accepted | captured | local | deferred | failed | suppressed | canceled
    status: Mapped[str] = mapped_column(String(20), default="pending")
    route: Mapped[str | None] = mapped_column(String(20), nullable=True)  # capture|relay|direct|local
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_response: Mapped[str | None] = mapped_column(String(500), nullable=True)
    accepted_at: Mapped[datetime | None] = mapped_column(nullable=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SmtpConfig(Base):
    """An organization's own smarthost; the password is sealed (crypto/sealing.py)."""

    __tablename__ = "smtp_configs"
    __table_args__ = (Index("ix_smtp_configs_org_id_id", "org_id", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200), default="")
    host: Mapped[str] = mapped_column(String(253))
    port: Mapped[int] = mapped_column(Integer)
    security: Mapped[str] = mapped_column(String(10))  # starttls | tls | none
    username: Mapped[str | None] = mapped_column(String(320), nullable=True)
    password_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FollowUpSequence(Base):
    """A follow-up sequence on a thread: steps sent one after another until a reply."""

    __tablename__ = "followup_sequences"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    inbox_id: Mapped[str] = mapped_column(ForeignKey("inboxes.id", ondelete="CASCADE"), index=True)
    thread_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    api_key_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    recipients: Mapped[list[str]] = mapped_column(JSONType, default=list)
    subject: Mapped[str] = mapped_column(Text, default="")
    # running | replied | completed | canceled | failed
    status: Mapped[str] = mapped_column(String(20), default="running")
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    sent_message_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    workflow_id: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
