"""What activities need, built once per worker process: engine, sessionmaker, blob store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from activities.authentication import Authenticator
from outbound.rate_limits import session_info

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
        # Rate-limit defaults and the DKIM sealing key, for outbound.rate_limits / outbound.dkim.
        sessionmaker.configure(info=session_info(settings))
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
    from activities.agent import AgentActivities
    from activities.ai import AiActivities
    from activities.deliverability import DeliverabilityActivities
    from activities.inbound import InboundActivities
    from activities.indexing import IndexingActivities
    from activities.follow_up import FollowUpActivities
    from activities.outbound import OutboundActivities
    from activities.waits import WaitActivities
    from activities.webhooks import WebhookActivities

    inbound = InboundActivities(deps)
    waits = WaitActivities(deps)
    webhooks = WebhookActivities(deps)
    outbound = OutboundActivities(deps)
    follow_up = FollowUpActivities(deps)
    return [
        follow_up.send_step,
        follow_up.finish,
        follow_up.notify_replied,
        outbound.load_plan,
        outbound.mark,
        outbound.deliver,
        outbound.finish,
        inbound.process,
        inbound.notify_waits,
        inbound.authenticate,
        DeliverabilityActivities(deps).process_report,
        waits.find_existing,
        waits.finish,
        webhooks.dispatch,
        webhooks.attempt_delivery,
        webhooks.finish_delivery,
        *_agent_activities(AgentActivities(deps)),
        *_search_activities(IndexingActivities(deps), AiActivities(deps)),
    ]


def _search_activities(indexing: Any, ai: Any) -> list[Callable[..., Any]]:
    return [indexing.index_message, ai.screen, ai.enrich]


def _agent_activities(agent: Any) -> list[Callable[..., Any]]:
    return [agent.complete, agent.run_tool, agent.record_action]
