"""Agent integration state: MCP sessions (so any API replica, or a restarted one, knows a
session id) and agent chat runs (the run's tenant, key and scopes; its live transcript is the
`AgentRun/{run_id}` workflow)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, JSONType, utcnow


class McpSession(Base):
    __tablename__ = "mcp_sessions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    # A session belongs to the key that opened it; another key presenting its id gets a 404.
    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), index=True)
    protocol_version: Mapped[str] = mapped_column(String(20))
    client_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)


class AgentRun(Base):
    __tablename__ = "agent_runs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    inbox_id: Mapped[str] = mapped_column(ForeignKey("inboxes.id", ondelete="CASCADE"), index=True)
    key_id: Mapped[str] = mapped_column(String(40))
    # The key's scopes when the run started: the run never acts beyond them.
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    workflow_id: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
