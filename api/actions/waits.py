"""Starting waits and awaiting their results, and the blocking waits (`wait_for_mail`,
`wait_for_otp`) shared by the REST routes (`GET /v1/inboxes/{id}/wait|otp`), the MCP tools and
the agent chat: one code path for the wake-up, the OTP answer and the 408 on timeout.

The wait row is committed before the workflow starts, so the pipeline (which reads active
waits) and the workflow's look-back query between them cover every message: none slips
through the gap between "already arrived" and "arrives later".
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from api.auth import Principal
from api.errors import ApiError
from contracts.messages import MessageView
from contracts.waits import WaitFilters, WaitInput, WaitKind, WaitResult
from settings import Settings
from store import inboxes, messages, waits
from store.base import utcnow
from store.models import Message
from store.views import message_view
from temporal_client import LazyClient, wait_task_queue
from workflows import ids
from workflows.wait_for_mail import WaitForMailWorkflow

Sessionmaker = async_sessionmaker[AsyncSession]


class OtpView(BaseModel):
    code: str
    all_codes: list[str]
    from_: str = Field(alias="from")
    subject: str
    expires: datetime | None
    email_id: str
    trusted: bool | None = Field(description="false: DMARC failed; null: not yet authenticated")
    model_config = ConfigDict(populate_by_name=True)


def otp_of(m: Message) -> OtpView:
    """The code as stored on the message by the pipeline ("" if it has not stored it yet)."""
    codes = (m.extracted or {}).get("otp_codes") or []
    expiry = (m.extracted or {}).get("code_expiry_seconds")
    return OtpView(
        code=codes[0]["code"] if codes else "", all_codes=[c["code"] for c in codes],
        from_=m.from_address, subject=m.subject, email_id=m.id, trusted=codes[0]["trusted"] if codes else None,
        expires=m.received_at + timedelta(seconds=expiry) if expiry else None,
    )  # fmt: skip


def otp_of_result(result: WaitResult) -> OtpView | None:
    """The answer straight from the wake-up (the pipeline woke the wait right after extraction,
    possibly before the message row was written: `trusted` is then null)."""
    o = result.otp
    if o is None or result.message_id is None:
        return None
    expires = o.received_at + timedelta(seconds=o.code_expiry_seconds) if o.code_expiry_seconds else None
    return OtpView(code=o.code, all_codes=o.all_codes, from_=o.from_address, subject=o.subject,
                   expires=expires, email_id=result.message_id, trusted=o.trusted)  # fmt: skip


async def create(
    sessionmaker: async_sessionmaker[AsyncSession], principal: Principal, *, inbox_id: str,
    kind: WaitKind, filters: WaitFilters, since: datetime | None, timeout_seconds: float,
) -> WaitInput:  # fmt: skip
    now = utcnow()
    async with sessionmaker.begin() as session:
        inbox = await inboxes.get_inbox(session, principal.scope, inbox_id)
        row = waits.create_wait(
            session, org_id=inbox.org_id, inbox_id=inbox.id, kind=kind,
            filters=filters.model_dump(by_alias=True, exclude_none=True), since=since or now,
            expires_at=now + timedelta(seconds=timeout_seconds), workflow_id_for=ids.wait,
        )  # fmt: skip
        return WaitInput(
            wait_id=row.id, org_id=row.org_id, inbox_id=row.inbox_id, kind=kind, filters=filters,
            since=row.since, expires_at=row.expires_at,
        )  # fmt: skip


def _start_op(inp: WaitInput, settings: Settings) -> WithStartWorkflowOperation[Any, Any]:
    return WithStartWorkflowOperation(
        WaitForMailWorkflow.run, inp, id=ids.wait(inp.wait_id), task_queue=wait_task_queue(settings),
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )  # fmt: skip


async def start(temporal: LazyClient, settings: Settings, inp: WaitInput) -> None:
    client = await temporal.get()
    await client.start_workflow(
        WaitForMailWorkflow.run, inp, id=ids.wait(inp.wait_id), task_queue=wait_task_queue(settings),
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )  # fmt: skip


async def start_and_await(temporal: LazyClient, settings: Settings, inp: WaitInput) -> WaitResult:
    """One RPC starts the workflow and blocks in its `result` update until the wait ends."""
    client = await temporal.get()
    budget = (inp.expires_at - utcnow()).total_seconds() + 15
    return await client.execute_update_with_start_workflow(
        WaitForMailWorkflow.result, start_workflow_operation=_start_op(inp, settings),
        rpc_timeout=timedelta(seconds=max(budget, 15)),
    )  # fmt: skip


async def await_result(temporal: LazyClient, wait_id: str, seconds: float) -> WaitResult | None:
    """The result if the wait ends within `seconds` (a long poll), else None."""
    client = await temporal.get()
    handle = client.get_workflow_handle_for(WaitForMailWorkflow.run, ids.wait(wait_id))
    try:
        return await asyncio.wait_for(
            handle.execute_update(WaitForMailWorkflow.result,
                                  rpc_timeout=timedelta(seconds=seconds + 10)),
            timeout=seconds,
        )  # fmt: skip
    except TimeoutError:
        return None


async def block(
    sessionmaker: Sessionmaker, temporal: LazyClient, settings: Settings, principal: Principal, *,
    inbox_id: str, kind: WaitKind, filters: WaitFilters, since: datetime | None, timeout_seconds: int,
    timeout_field: str = "timeout",
) -> WaitResult:  # fmt: skip
    """Start a wait and block until it matches; 408 `wait_timeout` (naming `timeout_field`)."""
    if kind == "otp":
        filters = filters.model_copy(update={"has_otp": True})
    inp = await create(sessionmaker, principal, inbox_id=inbox_id, kind=kind, filters=filters,
                       since=since, timeout_seconds=timeout_seconds)  # fmt: skip
    result = await start_and_await(temporal, settings, inp)
    if result.status != "matched" or result.message_id is None:
        raise ApiError(408, "wait_timeout", f"no matching message within {timeout_seconds}s",
                       [{"field": timeout_field, "message": f"{timeout_seconds}s elapsed"}])  # fmt: skip
    return result


async def wait_for_mail(
    sessionmaker: Sessionmaker, temporal: LazyClient, settings: Settings, principal: Principal, *,
    inbox_id: str, filters: WaitFilters, since: datetime | None, timeout_seconds: int,
    timeout_field: str = "timeout",
) -> MessageView:  # fmt: skip
    """Block until the next matching message arrives in the inbox; the message."""
    result = await block(sessionmaker, temporal, settings, principal, inbox_id=inbox_id, kind="mail",
                         filters=filters, since=since, timeout_seconds=timeout_seconds,
                         timeout_field=timeout_field)  # fmt: skip
    assert result.message_id is not None
    async with sessionmaker() as session:
        m = await messages.get_message(session, principal.scope, result.message_id)
        return message_view(m, await messages.attachments_of(session, m))


async def wait_for_otp(
    sessionmaker: Sessionmaker, temporal: LazyClient, settings: Settings, principal: Principal, *,
    inbox_id: str, filters: WaitFilters, since: datetime | None, timeout_seconds: int,
    timeout_field: str = "timeout",
) -> OtpView:  # fmt: skip
    """Block until a message with a one-time code arrives; the code, straight from the wake-up
    when the workflow carries it, else as stored on the message."""
    result = await block(sessionmaker, temporal, settings, principal, inbox_id=inbox_id, kind="otp",
                         filters=filters, since=since, timeout_seconds=timeout_seconds,
                         timeout_field=timeout_field)  # fmt: skip
    if (view := otp_of_result(result)) is not None:
        return view
    assert result.message_id is not None
    async with sessionmaker() as session:
        return otp_of(await messages.get_message(session, principal.scope, result.message_id))
