"""What activities need, built once per worker process: engine, sessionmaker, blob store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from settings import Settings
from store.blobs import BlobStore
from store.engine import create_engine, create_sessionmaker


@dataclass
class ActivityDeps:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    blobs: BlobStore

    @classmethod
    def build(cls, settings: Settings) -> ActivityDeps:
        engine = create_engine(settings)
        return cls(
            settings=settings,
            engine=engine,
            sessionmaker=create_sessionmaker(engine),
            blobs=BlobStore(settings.blobs_path),
        )

    async def close(self) -> None:
        await self.engine.dispose()


def build_activities(deps: ActivityDeps) -> list[Callable[..., Any]]:
    """Every activity the worker registers, bound to one set of dependencies."""
    from activities.messages import MessageActivities

    messages = MessageActivities(deps)
    return [messages.parse_message, messages.set_pipeline_state]
