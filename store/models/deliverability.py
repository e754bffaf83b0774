"""Deliverability: suppressions, delivery events, allow/block lists, send-rate counters and
per-domain DKIM keys (private keys sealed at rest)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, JSONType, utcnow


class Suppression(Base):
    """An address the organization never sends to again (hard bounce, complaint, manual)."""

    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("org_id", "address"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(320))  # lower-cased
    # hard_bounce | complaint | manual
    reason: Mapped[str] = mapped_column(String(30))
    # bounce | complaint | smtp | api: where the suppression came from
    source: Mapped[str] = mapped_column(String(30))
    message_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    detail: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeliveryEvent(Base):
    """One step of an outbound message's delivery, per message or per recipient."""

    __tablename__ = "delivery_events"
    __table_args__ = (
        Index("ix_delivery_events_org_id_id", "org_id", "id"),
        Index("ix_delivery_events_org_id_created_at", "org_id", "created_at"),
        # A retried activity passes the same dedupe key: the event is written once.
        UniqueConstraint("message_id", "dedupe_key"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    inbox_id: Mapped[str] = mapped_column(String(40), index=True)
    # No foreign key: events outlive a deleted message (metrics keep counting it).
    message_id: Mapped[str] = mapped_column(String(40), index=True)
    type: Mapped[str] = mapped_column(String(30))
    recipient: Mapped[str | None] = mapped_column(String(320), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AccessListEntry(Base):
    """An allow or block entry (address or domain) for sending or receiving, at org or inbox
    scope. `scope_key` is the inbox id or "*" for the organization, so uniqueness holds for
    org-wide entries too (NULLs never collide in a unique constraint)."""

    __tablename__ = "access_list_entries"
    __table_args__ = (UniqueConstraint("org_id", "scope_key", "direction", "kind", "value"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    inbox_id: Mapped[str | None] = mapped_column(
        ForeignKey("inboxes.id", ondelete="CASCADE"), nullable=True, index=True
    )
    scope_key: Mapped[str] = mapped_column(String(40))
    direction: Mapped[str] = mapped_column(String(10))  # send | receive
    kind: Mapped[str] = mapped_column(String(10))  # allow | block
    value: Mapped[str] = mapped_column(String(320))  # lower-cased address or domain
    value_type: Mapped[str] = mapped_column(String(10))  # address | domain
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RateLimitCounter(Base):
    """Sends counted in one fixed window, e.g. key `inbox:inb_…:hour:1763690400`."""

    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    window_end: Mapped[datetime] = mapped_column(index=True)


class DkimKey(Base):
    """A domain's DKIM key pair; the private key sealed with the master key."""

    __tablename__ = "dkim_keys"
    __table_args__ = (UniqueConstraint("domain_id", "selector"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    domain_id: Mapped[str] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"), index=True)
    selector: Mapped[str] = mapped_column(String(63))
    algorithm: Mapped[str] = mapped_column(String(20), default="rsa-sha256")
    key_bits: Mapped[int] = mapped_column(Integer, default=2048)
    private_key_sealed: Mapped[str] = mapped_column(Text)
    public_key: Mapped[str] = mapped_column(Text)  # base64 SubjectPublicKeyInfo (the `p=` tag)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
