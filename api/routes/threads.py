"""Threads: an inbox's conversations, and one thread with its messages."""

from __future__ import annotations

from typing import Literal

from litestar import Controller, get
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from api.auth import Principal, requires
from api.pagination import DEFAULT_LIMIT, MAX_LIMIT, ListResponse, decode_cursor, to_list_response
from contracts.messages import ThreadView, ThreadWithMessagesView
from store import inboxes, messages, threads
from store.views import message_view, thread_view


class ThreadController(Controller):
    path = "/v1/threads"
    tags = ["threads"]
    guards = [requires("mail.read")]

    @get("/", summary="List an inbox's threads (newest first, or order=asc)")
    async def list_threads(
        self, db: AsyncSession, principal: Principal,
        inbox_id: str = Parameter(max_length=64),
        limit: int = Parameter(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
        cursor: str | None = Parameter(default=None, max_length=200),
        order: Literal["desc", "asc"] = "desc",
    ) -> ListResponse[ThreadView]:  # fmt: skip
        await inboxes.get_inbox(db, principal.scope, inbox_id)
        page = await threads.list_threads(db, principal.scope, inbox_id, limit=limit,
                                          after=decode_cursor(cursor), ascending=order == "asc")  # fmt: skip
        return ListResponse[ThreadView](**to_list_response(page, thread_view))

    @get("/{thread_id:str}", summary="A thread with its messages, oldest first")
    async def read(self, thread_id: str, db: AsyncSession, principal: Principal) -> ThreadWithMessagesView:
        thread = await threads.get_thread(db, principal.scope, thread_id)
        views = [message_view(m, await messages.attachments_of(db, m))
                 for m in await threads.messages_of(db, thread)]  # fmt: skip
        return ThreadWithMessagesView(**thread_view(thread).model_dump(), messages=views)
