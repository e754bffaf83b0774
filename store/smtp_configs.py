"""Per-organization SMTP relays (bring your own smarthost): create, list, delete, set default.
The password is sealed by the caller (crypto/sealing.py) and never leaves this module unsealed."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.base import new_id
from store.errors import NotFound
from store.models import SmtpConfig
from store.pagination import Page, paginate
from store.scope import TenantScope


async def create(session: AsyncSession, scope: TenantScope, *, name: str, host: str, port: int,
                 security: str, username: str | None, password_sealed: str | None,
                 is_default: bool) -> SmtpConfig:  # fmt: skip
    if is_default:
        await _clear_default(session, scope.org_id)
    cfg = SmtpConfig(id=new_id("smtp"), org_id=scope.org_id, name=name, host=host, port=port,
                     security=security, username=username, password_sealed=password_sealed,
                     is_default=is_default)  # fmt: skip
    session.add(cfg)
    await session.flush()
    return cfg


async def _clear_default(session: AsyncSession, org_id: str) -> None:
    await session.execute(update(SmtpConfig).where(SmtpConfig.org_id == org_id)
                          .values(is_default=False))  # fmt: skip


async def get(session: AsyncSession, scope: TenantScope, config_id: str) -> SmtpConfig:
    cfg = await session.scalar(select(SmtpConfig).where(SmtpConfig.id == config_id,
                                                        SmtpConfig.org_id == scope.org_id))
    if cfg is None:
        raise NotFound("SMTP config not found", field="smtp_config_id")
    return cfg


async def list_configs(session: AsyncSession, scope: TenantScope, *, limit: int,
                       after: str | None) -> Page[SmtpConfig]:  # fmt: skip
    stmt = select(SmtpConfig).where(SmtpConfig.org_id == scope.org_id)
    return await paginate(session, stmt, SmtpConfig.id, limit=limit, after=after)


async def delete(session: AsyncSession, cfg: SmtpConfig) -> None:
    await session.delete(cfg)


async def set_default(session: AsyncSession, cfg: SmtpConfig) -> SmtpConfig:
    await _clear_default(session, cfg.org_id)
    cfg.is_default = True
    await session.flush()
    return cfg


async def default_for(session: AsyncSession, org_id: str) -> SmtpConfig | None:
    """The organization's default relay, used for every remote recipient when present."""
    return await session.scalar(select(SmtpConfig).where(SmtpConfig.org_id == org_id,
                                                         SmtpConfig.is_default.is_(True)))
