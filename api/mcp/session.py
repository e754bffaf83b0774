"""MCP sessions of the 2025 revisions, stored in the database so any API replica (or a
restarted one) accepts a session id it did not issue, and an ended or unknown one is a 404 so
the client re-initializes. A session is bound to the API key that opened it."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal
from store.base import utcnow
from store.models import McpSession

MAX_SESSION_ID = 100


def _new_session_id() -> str:
    # Visible ASCII only (the spec's rule for Mcp-Session-Id) and unguessable.
    return f"mcps_{secrets.token_urlsafe(24)}"


async def open_session(db: AsyncSession, principal: Principal, protocol_version: str, client_name: str) -> str:
    row = McpSession(
        id=_new_session_id(), org_id=principal.org_id, key_id=principal.key_id,
        protocol_version=protocol_version, client_name=client_name[:200],
    )  # fmt: skip
    db.add(row)
    await db.flush()
    return row.id


async def find(db: AsyncSession, principal: Principal, session_id: str) -> McpSession | None:
    """The live session with this id opened by this key, or None (unknown, ended, another key)."""
    if len(session_id) > MAX_SESSION_ID or not session_id.isascii():
        return None
    row = await db.scalar(select(McpSession).where(McpSession.id == session_id))
    if row is None or row.ended_at is not None or row.key_id != principal.key_id:
        return None
    return row


async def end(db: AsyncSession, principal: Principal, session_id: str) -> bool:
    row = await find(db, principal, session_id)
    if row is None:
        return False
    row.ended_at = utcnow()
    await db.flush()
    return True
