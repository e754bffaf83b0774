"""API keys: create, authenticate, list, rotate and revoke."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crypto.api_keys import display_prefix, generate_api_key, hash_api_key
from store.base import new_id, utcnow
from store.errors import NotFound
from store.models import ApiKey, User
from store.pagination import Page, paginate

# last_used_at is a hint, not a log: writing it on every request would serialise SQLite writers.
LAST_USED_RESOLUTION = timedelta(seconds=60)


async def create_key(
    session: AsyncSession,
    *,
    org_id: str,
    user: User,
    name: str,
    scopes: list[str],
    expires_at: datetime | None = None,
    inbox_ids: list[str] | None = None,
    rotated_from_id: str | None = None,
    requires_approval: bool = False,
) -> tuple[ApiKey, str]:
    secret = generate_api_key()
    key = ApiKey(
        id=new_id("key"),
        org_id=org_id,
        user_id=user.id,
        name=name,
        prefix=display_prefix(secret),
        key_hash=hash_api_key(secret),
        scopes=sorted(set(scopes)),
        inbox_ids=inbox_ids,
        expires_at=expires_at,
        rotated_from_id=rotated_from_id,
        requires_approval=requires_approval,
    )
    session.add(key)
    await session.flush()
    return key, secret


async def authenticate(session: AsyncSession, secret: str) -> tuple[ApiKey, User] | None:
    """The live key and its user for a presented secret, or None (unknown, revoked, expired)."""
    row = (
        await session.execute(
            select(ApiKey, User)
            .join(User, User.id == ApiKey.user_id)
            .where(ApiKey.key_hash == hash_api_key(secret))
        )
    ).first()
    if row is None:
        return None
    key, user = row
    now = utcnow()
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
        return None
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        await session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
    return key, user


async def get_key(session: AsyncSession, org_id: str, key_id: str) -> ApiKey:
    key = await session.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.org_id == org_id))
    if key is None:
        raise NotFound("API key not found", field="key_id")
    return key


async def list_keys(
    session: AsyncSession, org_id: str, *, user_id: str | None, limit: int, after: str | None
) -> Page[ApiKey]:
    stmt = select(ApiKey).where(ApiKey.org_id == org_id)
    if user_id is not None:
        stmt = stmt.where(ApiKey.user_id == user_id)
    return await paginate(session, stmt, ApiKey.id, limit=limit, after=after)


async def revoke_key(session: AsyncSession, key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    await session.flush()
    return key


async def rotate_key(session: AsyncSession, key: ApiKey) -> tuple[ApiKey, str]:
    """Issue a replacement with the same grants and revoke the old key at once."""
    user = await session.get(User, key.user_id)
    if user is None:
        raise NotFound("API key not found")
    new_key, secret = await create_key(
        session,
        org_id=key.org_id,
        user=user,
        name=key.name,
        scopes=list(key.scopes),
        expires_at=key.expires_at,
        inbox_ids=key.inbox_ids,
        rotated_from_id=key.id,
        requires_approval=key.requires_approval,
    )
    await revoke_key(session, key)
    return new_key, secret
