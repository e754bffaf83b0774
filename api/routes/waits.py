"""Waiting for mail: blocking waits (`/wait`, `/otp`) and durable ones (`/v1/waits`).

Blocking waits hold the HTTP request until a matching message arrives or `timeout` passes
(408 `wait_timeout`). Durable waits return an id at once; `GET /v1/waits/{id}?wait=N`
long-polls, so a wait survives a dropped connection and anyone may await it. Broadcast: one
message satisfies every active wait it matches.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.params import Parameter, QueryParameter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.service import RPCError

from api.actions import waits as wait_actions
from api.actions.waits import OtpView, otp_of, otp_of_result
from api.auth import Principal, requires
from contracts.messages import MessageView
from contracts.waits import WaitFilters, WaitResult
from store import messages, waits
from store.models import Wait
from store.views import message_view
from temporal_client import LazyClient

MAX_BLOCKING = 300
MAX_DURABLE = 7 * 24 * 3600


class WaitCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inbox_id: str = Field(max_length=64)
    kind: Literal["mail", "otp"] = "mail"
    filters: WaitFilters = WaitFilters()
    since: datetime | None = None
    timeout_seconds: int = Field(300, ge=1, le=MAX_DURABLE)


class WaitView(BaseModel):
    id: str
    inbox_id: str
    kind: str
    status: str
    filters: dict[str, Any]
    since: datetime
    expires_at: datetime
    workflow_id: str
    message_id: str | None
    message: MessageView | None = None
    otp: OtpView | None = None


def _filters(from_: str | None, subject: str | None, category: str | None, has_otp: bool | None) -> WaitFilters:
    return WaitFilters(from_=from_, subject=subject, category=category, has_otp=has_otp)


Timeout = Parameter(default=30, ge=1, le=MAX_BLOCKING, description="seconds (max 300)")


class WaitController(Controller):
    path = "/v1"
    tags = ["waits"]
    guards = [requires("mail.read")]

    @get("/inboxes/{inbox_id:str}/wait", summary="Block until the next matching message (408 on timeout)")
    async def wait_mail(
        self, inbox_id: str, state: State, principal: Principal,
        from_: str | None = QueryParameter(name="from", default=None, max_length=320),
        subject: str | None = Parameter(default=None, max_length=500),
        category: str | None = Parameter(default=None, max_length=30),
        has_otp: bool | None = None, since: datetime | None = None, timeout: int = Timeout,
    ) -> MessageView:  # fmt: skip
        return await wait_actions.wait_for_mail(
            state.sessionmaker, state.temporal, state.settings, principal, inbox_id=inbox_id,
            filters=_filters(from_, subject, category, has_otp), since=since, timeout_seconds=timeout,
        )  # fmt: skip

    @get("/inboxes/{inbox_id:str}/otp", summary="Block until a one-time code arrives (408 on timeout)")
    async def wait_otp(
        self, inbox_id: str, state: State, principal: Principal,
        from_: str | None = QueryParameter(name="from", default=None, max_length=320),
        subject: str | None = Parameter(default=None, max_length=500),
        category: str | None = Parameter(default=None, max_length=30),
        since: datetime | None = None, timeout: int = Timeout,
    ) -> OtpView:  # fmt: skip
        return await wait_actions.wait_for_otp(
            state.sessionmaker, state.temporal, state.settings, principal, inbox_id=inbox_id,
            filters=_filters(from_, subject, category, True), since=since, timeout_seconds=timeout,
        )  # fmt: skip

    @post("/waits", summary="Start a durable wait; returns its id at once")
    async def create_wait(self, data: WaitCreate, state: State, principal: Principal) -> WaitView:
        inp = await wait_actions.create(state.sessionmaker, principal, inbox_id=data.inbox_id,
                                        kind=data.kind, filters=data.filters, since=data.since,
                                        timeout_seconds=data.timeout_seconds)  # fmt: skip
        await wait_actions.start(state.temporal, state.settings, inp)
        async with state.sessionmaker() as session:
            return await _view(session, principal, await waits.get_wait(session, principal.scope, inp.wait_id))

    @get("/waits/{wait_id:str}", summary="A wait's state; `wait=N` long-polls up to N seconds")
    async def read_wait(
        self, wait_id: str, state: State, principal: Principal,
        wait: int = Parameter(default=0, ge=0, le=MAX_BLOCKING),
    ) -> WaitView:  # fmt: skip
        async with state.sessionmaker() as session:
            row = await waits.get_wait(session, principal.scope, wait_id)
        result = await _long_poll(state.temporal, wait_id, wait) if row.status == "active" and wait else None
        async with state.sessionmaker() as session:
            row = await waits.get_wait(session, principal.scope, wait_id)
            if result is not None and row.status == "active":
                # The workflow answered before its bookkeeping activity committed the row.
                row.status, row.message_id = result.status, result.message_id
            return await _view(session, principal, row, result, state.temporal)


async def _state(temporal: LazyClient, workflow_id: str) -> WaitResult | None:
    """The wait workflow's result, by query (None if it cannot answer)."""
    try:
        client = await temporal.get()
        return await client.get_workflow_handle(workflow_id).query(  # type: ignore[no-any-return]
            "get_state", result_type=WaitResult
        )
    except RPCError:
        return None


async def _long_poll(temporal: LazyClient, wait_id: str, seconds: int) -> WaitResult | None:
    try:
        return await wait_actions.await_result(temporal, wait_id, seconds)
    except RPCError:  # finished between our read and the poll: the row has the outcome
        return None


async def _view(
    session: AsyncSession, principal: Principal, w: Wait, result: WaitResult | None = None,
    temporal: LazyClient | None = None,
) -> WaitView:  # fmt: skip
    view = WaitView(
        id=w.id, inbox_id=w.inbox_id, kind=w.kind, status=w.status, filters=w.filters,
        since=w.since, expires_at=w.expires_at, workflow_id=w.workflow_id, message_id=w.message_id,
    )  # fmt: skip
    if w.message_id:
        m = await messages.get_message(session, principal.scope, w.message_id)
        view.message = message_view(m, await messages.attachments_of(session, m))
        view.otp = otp_of(m) if w.kind == "otp" else None
        if view.otp is not None and not view.otp.code:
            # Woken right after extraction: the code is in the wait's result before the
            # pipeline has stored it on the message.
            if (result is None or result.otp is None) and temporal is not None:
                result = await _state(temporal, w.workflow_id)
            view.otp = (otp_of_result(result) if result else None) or view.otp
    return view
