"""What activities need, built once per worker process: engine, sessionmaker, blob store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from activities.authentication import Authenticator

from settings import Settings
from store.blobs import BlobStore
from store.engine import create_engine, create_sessionmaker


@dataclass
class ActivityDeps:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    blobs: BlobStore
    authenticator: Authenticator

    @classmethod
    def build(cls, settings: Settings) -> ActivityDeps:
        engine = create_engine(settings)
        sessionmaker = create_sessionmaker(engine)
        blobs = BlobStore(settings.blobs_path)
        return cls(
            settings=settings,
            engine=engine,
            sessionmaker=sessionmaker,
            blobs=blobs,
            authenticator=Authenticator(settings, sessionmaker, blobs),
        )

    async def close(self) -> None:
        await self.engine.dispose()


def build_activities(deps: ActivityDeps) -> list[Callable[..., Any]]:
    """Every activity the worker registers, bound to one set of dependencies."""
    from activities.inbound import InboundActivities
    from activities.waits import WaitActivities
    from activities.webhooks import WebhookActivities

    inbound = InboundActivities(deps)
    waits = WaitActivities(deps)
    webhooks = WebhookActivities(deps)
    return [
        inbound.process,
        inbound.notify_waits,
        inbound.authenticate,
        waits.find_existing,
        waits.finish,
        webhooks.dispatch,
        webhooks.attempt_delivery,
        webhooks.finish_delivery,
    ]
