"""Mail: threads, messages and their attachments. Bodies live here; raw MIME in the blob store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, JSONType, utcnow


class Thread(Base):
    __tablename__ = "threads"
    __table_args__ = (Index("ix_threads_inbox_last", "inbox_id", "last_message_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    inbox_id: Mapped[str] = mapped_column(ForeignKey("inboxes.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(Text, default="")
    normalized_subject: Mapped[str] = mapped_column(String(500), default="", index=True)
    participants: Mapped[list[str]] = mapped_column(JSONType, default=list)
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    last_message_at: Mapped[datetime] = mapped_column(default=utcnow)
    snippet: Mapped[str] = mapped_column(String(300), default="")
    last_direction: Mapped[str] = mapped_column(String(10), default="inbound")
    has_attachments: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_inbox_id_id", "inbox_id", "id"),
        Index("ix_messages_inbox_header_id", "inbox_id", "message_id_header"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    inbox_id: Mapped[str] = mapped_column(ForeignKey("inboxes.id", ondelete="CASCADE"))
    thread_id: Mapped[str | None] = mapped_column(
        ForeignKey("threads.id", ondelete="SET NULL"), nullable=True, index=True
    )
    direction: Mapped[str] = mapped_column(String(10))  # inbound | outbound
    # User-facing lifecycle: inbound "received"; outbound queued/scheduled/sent/... (outbound issue).
    status: Mapped[str] = mapped_column(String(30))
    # Inbound pipeline progress: pending (stored, workflow not yet started) -> started -> done | failed.
    pipeline_state: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    workflow_id: Mapped[str | None] = mapped_column(String(100), nullable=True)

    message_id_header: Mapped[str | None] = mapped_column(String(998), nullable=True)
    in_reply_to: Mapped[str | None] = mapped_column(String(998), nullable=True)
    references: Mapped[list[str]] = mapped_column(JSONType, default=list)
    subject: Mapped[str] = mapped_column(Text, default="")
    from_address: Mapped[str] = mapped_column(String(320), default="")
    from_name: Mapped[str] = mapped_column(String(300), default="")
    to: Mapped[list[dict[str, str]]] = mapped_column(JSONType, default=list)
    cc: Mapped[list[dict[str, str]]] = mapped_column(JSONType, default=list)
    bcc: Mapped[list[dict[str, str]]] = mapped_column(JSONType, default=list)
    reply_to: Mapped[list[dict[str, str]]] = mapped_column(JSONType, default=list)
    envelope_from: Mapped[str] = mapped_column(String(320), default="")
    # The SMTP client's address and HELO name, for SPF.
    client_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    helo: Mapped[str | None] = mapped_column(String(255), nullable=True)
    envelope_to: Mapped[list[str]] = mapped_column(JSONType, default=list)
    headers: Mapped[list[list[str]]] = mapped_column(JSONType, default=list)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    html: Mapped[str | None] = mapped_column(Text, nullable=True)
    stripped_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    snippet: Mapped[str] = mapped_column(String(300), default="")
    size: Mapped[int] = mapped_column(Integer, default=0)
    raw_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    has_attachments: Mapped[bool] = mapped_column(Boolean, default=False)
    labels: Mapped[list[str]] = mapped_column(JSONType, default=list)
    category: Mapped[str | None] = mapped_column(String(30), nullable=True, index=True)
    # Deterministic extraction: otp_codes (with trusted flags), links, backup codes, expiry.
    extracted: Mapped[dict[str, Any]] = mapped_column(
        JSONType, default=dict, server_default=sql_text("'{}'")
    )
    # Our own SPF/DKIM/DMARC verdicts (never the forgeable Authentication-Results header).
    authentication_results: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    # Results of pipeline steps (codes, category, authentication, defects ...), by step name.
    analysis: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    is_read: Mapped[bool] = mapped_column(Boolean, default=False)
    is_starred: Mapped[bool] = mapped_column(Boolean, default=False)
    is_archived: Mapped[bool] = mapped_column(Boolean, default=False)
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)  # the Date header
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[str | None] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), nullable=True, index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content_id: Mapped[str | None] = mapped_column(String(998), nullable=True)
    inline: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
