"""Search and deliverability tools: search mail by meaning or keywords (api/actions/search.py),
the delivery health overview and suppression lookups (api/actions/deliverability.py)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.actions import deliverability
from api.actions import search as search_actions
from api.mcp.registry import Tool, ToolContext
from contracts.search import MessageSearchResponse, SearchParams, ThreadSearchResponse


class HealthArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    days: int = Field(30, ge=1, le=365, description="the period, in days")
    inbox_id: str | None = Field(None, max_length=64, description="one inbox (default: all visible)")


class SuppressionArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str = Field(min_length=3, max_length=320, description="the recipient address to check")


async def search_mail(ctx: ToolContext, a: SearchParams) -> MessageSearchResponse:
    async with ctx.sessionmaker() as db:
        return await search_actions.search_messages(db, ctx.settings, ctx.principal.scope, a)


async def search_threads(ctx: ToolContext, a: SearchParams) -> ThreadSearchResponse:
    async with ctx.sessionmaker() as db:
        return await search_actions.search_threads(db, ctx.settings, ctx.principal.scope, a)


async def delivery_health(ctx: ToolContext, a: HealthArgs) -> Any:
    async with ctx.sessionmaker() as db:
        return await deliverability.health(db, ctx.principal, days=a.days, inbox_id=a.inbox_id)


async def lookup_suppression(ctx: ToolContext, a: SuppressionArgs) -> dict[str, Any]:
    async with ctx.sessionmaker() as db:
        found = await deliverability.lookup_suppression(db, ctx.principal, a.address)
    return {"address": a.address, "suppressed": found is not None,
            "suppression": found.model_dump(mode="json") if found else None}  # fmt: skip


INSIGHT_TOOLS: list[Tool] = [
    Tool("search_mail", "Search mail", "Search messages and attachments by meaning and keywords "
         "(mode hybrid, semantic or keyword); filters: inbox_id, from, since, before, category.",
         ("mail.read",), SearchParams, search_mail, read_only=True, idempotent=True),
    Tool("search_threads", "Search threads", "Like search_mail, grouped by conversation.",
         ("mail.read",), SearchParams, search_threads, read_only=True, idempotent=True),
    Tool("delivery_health", "Delivery health", "Sent/delivered/bounced/complained counts and rates "
         "of outbound mail over the last N days.",
         ("analytics.read",), HealthArgs, delivery_health, read_only=True, idempotent=True),
    Tool("lookup_suppression", "Check the suppression list", "Whether an address is suppressed "
         "(hard bounce, complaint or manual) and why; sends to it are refused.",
         ("analytics.read", "mail.send"), SuppressionArgs, lookup_suppression, read_only=True, idempotent=True),
]  # fmt: skip
