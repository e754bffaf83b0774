"""Waits: an agent waiting for the next matching message (or one-time code) in an inbox.

A row per wait; its live state is the `WaitForMail/{wait_id}` workflow. The inbound pipeline
reads the active waits of an inbox to know which workflows to wake.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, JSONType, utcnow


class Wait(Base):
    __tablename__ = "waits"
    __table_args__ = (Index("ix_waits_inbox_status", "inbox_id", "status"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    inbox_id: Mapped[str] = mapped_column(ForeignKey("inboxes.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))  # mail | otp
    # active -> matched | timed_out | canceled
    status: Mapped[str] = mapped_column(String(20), default="active")
    filters: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    since: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(default=utcnow)
    message_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    workflow_id: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
