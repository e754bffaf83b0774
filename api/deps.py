"""Dependency providers: a database session per request and the authenticated principal."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from litestar import Request
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal
from temporal_client import LazyClient


async def provide_db(state: State) -> AsyncGenerator[AsyncSession, None]:
    """One transaction per request: committed when the handler returns, rolled back if it raises."""
    async with state.sessionmaker.begin() as session:
        yield session


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    return request.user  # type: ignore[no-any-return]


def provide_temporal(state: State) -> LazyClient:
    return state.temporal  # type: ignore[no-any-return]
