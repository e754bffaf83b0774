"""Store tests run every case on SQLite (the dev default) and on PostgreSQL (production).

Each test module gets its own database per dialect, migrated with the real Alembic migrations;
every test starts from empty tables, as STYLE §4.5 prescribes, so tests that need an empty
platform (bootstrap, the reconciler's pending scan) do not see each other's rows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import store.models  # noqa: F401  (registers every table on the metadata)
from store import inboxes, orgs
from store.base import Base
from store.engine import create_engine_for_url, create_sessionmaker
from store.migrate import upgrade_url
from store.models import Inbox, Organization, User
from store.scope import TenantScope

DEFAULT_DOMAIN = "agents.example.test"

Sessionmaker = async_sessionmaker[AsyncSession]


@pytest.fixture(scope="module")
async def migrated_url(db_url: str) -> str:
    await upgrade_url(db_url)
    return db_url


@pytest.fixture(scope="module")
async def engine(migrated_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine_for_url(migrated_url)
    yield eng
    await eng.dispose()


@pytest.fixture
def dialect(engine: AsyncEngine) -> str:
    return engine.dialect.name


async def _empty_all_tables(engine: AsyncEngine) -> None:
    # DELETE, children first so foreign keys (ON in our SQLite engine) hold; for a handful of
    # rows it is far faster than TRUNCATE on PostgreSQL.
    async with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            await conn.execute(table.delete())


@pytest.fixture
async def sm(engine: AsyncEngine) -> Sessionmaker:
    """A sessionmaker over empty tables."""
    await _empty_all_tables(engine)
    return create_sessionmaker(engine)


@dataclass
class Org:
    org: Organization
    user: User
    secret: str

    @property
    def scope(self) -> TenantScope:
        return TenantScope(org_id=self.org.id)


async def _make_org(sm: Sessionmaker, name: str) -> Org:
    async with sm.begin() as session:
        org, user, _key, secret = await orgs.create_organization(
            session, name=name, admin_email=None
        )
    return Org(org=org, user=user, secret=secret)


@pytest.fixture
def make_inbox(platform: Sessionmaker) -> Callable[..., Awaitable[Inbox]]:
    """`await make_inbox(scope, local_part=None, **create_inbox kwargs)` on the default domain."""

    async def make(scope: TenantScope, local_part: str | None = None, **kw: Any) -> Inbox:
        async with platform.begin() as session:
            return await inboxes.create_inbox(
                session,
                scope,
                local_part=local_part,
                name=kw.pop("name", ""),
                domain_name=None,
                **kw,
            )

    return make


@pytest.fixture
def default_domain() -> str:
    return DEFAULT_DOMAIN


@pytest.fixture
async def platform(sm: Sessionmaker) -> Sessionmaker:
    """Empty tables plus the default platform domain (what `up` bootstraps)."""
    async with sm.begin() as session:
        await orgs.bootstrap_platform(session, default_domain=DEFAULT_DOMAIN)
    return sm


@pytest.fixture
async def acme(platform: Sessionmaker) -> Org:
    return await _make_org(platform, "Acme")


@pytest.fixture
async def globex(platform: Sessionmaker) -> Org:
    return await _make_org(platform, "Globex")
