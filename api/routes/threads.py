"""Threads: an inbox's conversations, and one thread with its messages."""

from __future__ import annotations

from typing import Literal

from litestar import Controller, get
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from api.actions import threads as thread_actions
from api.auth import Principal, requires
from api.pagination import DEFAULT_LIMIT, MAX_LIMIT, ListResponse, decode_cursor, to_list_response
from contracts.messages import ThreadView, ThreadWithMessagesView


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
        page = await thread_actions.list_for_inbox(db, principal, inbox_id, limit=limit,
                                                   after=decode_cursor(cursor), ascending=order == "asc")  # fmt: skip
        return ListResponse[ThreadView](**to_list_response(page, lambda v: v))

    @get("/{thread_id:str}", summary="A thread with its messages, oldest first")
    async def read(self, thread_id: str, db: AsyncSession, principal: Principal) -> ThreadWithMessagesView:
        return await thread_actions.read(db, principal, thread_id)
