"""Thread service functions shared by the REST routes and the MCP/agent tools."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal
from contracts.messages import ThreadView, ThreadWithMessagesView
from store import inboxes, messages, threads
from store.pagination import Page
from store.views import message_view, thread_view


async def list_for_inbox(
    db: AsyncSession, principal: Principal, inbox_id: str, *, limit: int, after: str | None,
    ascending: bool = False,
) -> Page[ThreadView]:  # fmt: skip
    await inboxes.get_inbox(db, principal.scope, inbox_id)  # 404 for invisible inboxes
    page = await threads.list_threads(db, principal.scope, inbox_id, limit=limit, after=after,
                                      ascending=ascending)  # fmt: skip
    return Page(items=[thread_view(t) for t in page.items], next_after=page.next_after)


async def read(db: AsyncSession, principal: Principal, thread_id: str) -> ThreadWithMessagesView:
    """A thread with its messages, oldest first."""
    thread = await threads.get_thread(db, principal.scope, thread_id)
    views = [message_view(m, await messages.attachments_of(db, m))
             for m in await threads.messages_of(db, thread)]  # fmt: skip
    return ThreadWithMessagesView(**thread_view(thread).model_dump(), messages=views)
