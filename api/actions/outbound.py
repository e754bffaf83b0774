"""Sending: compose, reply and forward, shared by the REST routes and MCP tools.

Every send goes the same way: validate (addresses, header injection, limits) → claim the
Idempotency-Key (committed, so a concurrent duplicate sees "in flight") → one transaction with
the send policy, the rate limit, the MIME in the blob store and the message, send, recipient
and attachment rows, threaded into the inbox → start `OutboundMail/{message_id}`. The workflow
is the one send path: approval, schedule and transport all happen there. Cancel, reschedule,
approve and reject live in `api.actions.outbound_control`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.actions.outbound_views import outbound_view
from api.auth import Principal
from api.errors import ApiError
from contracts import errors
from contracts.outbound import OutboundMailInput
from contracts.sending import ForwardRequest, OutboundView, ReplyRequest, SendRequest
from outbound import compose
from outbound.compose import ComposeError, MimeSpec, OutgoingAttachment
from settings import Settings
from store import inboxes, messages, outbound
from store.base import utcnow
from store.blobs import BlobStore
from store.errors import Invalid
from store.models import Message
from temporal_client import LazyClient
from workflows import ids
from workflows.outbound_mail import OutboundMailWorkflow

IDEMPOTENCY_MISMATCH = "idempotency_key_reused"
log = logging.getLogger("postflow.outbound")


async def start_outbound(client: Client, settings: Settings, message_id: str) -> None:
    """Start `OutboundMail/{message_id}`: the one deterministic id, so a second start (an API
    replay, the reconciler racing the API) joins the running workflow and never re-runs a
    finished one."""
    try:
        await client.start_workflow(
            OutboundMailWorkflow.run, OutboundMailInput(message_id=message_id),
            id=ids.outbound(message_id), task_queue=settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )  # fmt: skip
    except WorkflowAlreadyStartedError:
        pass


@dataclass
class Draft:
    """A send after validation: parsed addresses, bodies and threading."""

    inbox_id: str
    to: list[tuple[str, str]]
    cc: list[tuple[str, str]] = field(default_factory=list)
    bcc: list[tuple[str, str]] = field(default_factory=list)
    reply_to: list[tuple[str, str]] = field(default_factory=list)
    subject: str = ""
    text: str | None = None
    html: str | None = None
    attachment_ids: list[str] = field(default_factory=list)
    thread_id: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    send_at: datetime | None = None
    unless_replied: bool = False
    require_approval: bool = False
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    forwarded_sha: str | None = None


@dataclass
class SendOutcome:
    view: OutboundView
    replayed: bool
    rate_headers: dict[str, str]


def invalid(exc: ComposeError) -> Invalid:
    return Invalid(exc.message, field=exc.field)


def request_hash(operation: str, target: str, body: dict[str, Any]) -> str:
    blob = json.dumps([operation, target, body], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class Outbound:
    sessionmaker: async_sessionmaker[AsyncSession]
    blobs: BlobStore
    temporal: LazyClient
    settings: Settings

    @classmethod
    def of(cls, state: State) -> Outbound:
        return cls(state.sessionmaker, state.blobs, state.temporal, state.settings)

    def check_send_at(self, send_at: datetime | None, fld: str = "send_at") -> datetime | None:
        if send_at is None:
            return None
        if send_at.tzinfo is None:
            raise Invalid("send_at needs a timezone offset (e.g. Z)", field=fld)
        now = utcnow()
        if send_at < now - timedelta(seconds=5):
            raise Invalid("send_at is in the past", field=fld)
        horizon = timedelta(days=self.settings.outbound_max_schedule_days)
        if send_at > now + horizon:
            raise Invalid(f"send_at is beyond the maximum of {horizon.days} days", field=fld)
        return send_at

    def _check_count(self, d: Draft) -> None:
        n = len(d.to) + len(d.cc) + len(d.bcc)
        if n == 0:
            raise Invalid("give at least one recipient", field="to")
        if n > self.settings.outbound_max_recipients:
            raise Invalid(f"at most {self.settings.outbound_max_recipients} recipients "
                          "(to + cc + bcc)", field="to")  # fmt: skip

    async def send(self, principal: Principal, req: SendRequest,
                   idempotency_key: str | None = None) -> SendOutcome:  # fmt: skip
        try:
            if req.text is None and req.html is None:
                raise ComposeError("text", "give text and/or html")
            draft = Draft(
                inbox_id=req.inbox_id, to=compose.parse_addresses(req.to, "to"),
                cc=compose.parse_addresses(req.cc, "cc"), bcc=compose.parse_addresses(req.bcc, "bcc"),
                reply_to=compose.parse_addresses(req.reply_to, "reply_to"),
                subject=compose.one_line(req.subject, "subject"), text=req.text, html=req.html,
                attachment_ids=list(req.attachments), thread_id=req.thread_id,
                headers=compose.check_custom_headers(req.headers),
                send_at=self.check_send_at(req.send_at), unless_replied=req.send_unless_replied,
                require_approval=req.require_approval,
            )  # fmt: skip
        except ComposeError as exc:
            raise invalid(exc) from None
        if draft.unless_replied and draft.thread_id is None:
            raise Invalid("send_unless_replied needs a thread_id", field="send_unless_replied")
        self._check_count(draft)
        body = req.model_dump(mode="json")
        return await self.submit(principal, draft, "send", req.inbox_id, body, idempotency_key)

    async def reply(self, principal: Principal, message_id: str, req: ReplyRequest,
                    idempotency_key: str | None = None) -> SendOutcome:  # fmt: skip
        if req.text is None and req.html is None:
            raise Invalid("give text and/or html", field="text")
        async with self.sessionmaker() as db:
            parent = await messages.get_message(db, principal.scope, message_id)
            inbox = await inboxes.get_inbox(db, principal.scope, parent.inbox_id)
        own = inbox.address.lower()
        if parent.direction == "inbound":
            to = [(a.get("name", ""), a["email"]) for a in parent.reply_to or [] if a.get("email")]
            to = to or [(parent.from_name, parent.from_address)]
        else:
            to = [(a.get("name", ""), a["email"]) for a in parent.to or []]
        cc: list[tuple[str, str]] = []
        if req.reply_all:
            others = [(a.get("name", ""), a["email"]) for a in (parent.to or []) + (parent.cc or [])]
            cc = [a for a in others if a[1].lower() != own and a[1].lower() not in
                  {t[1].lower() for t in to}]  # fmt: skip
        in_reply_to, refs = compose.reference_chain(list(parent.references or []),
                                                    parent.message_id_header)  # fmt: skip
        try:
            draft = Draft(
                inbox_id=inbox.id, to=self._revalidate(to, "to"), cc=self._revalidate(cc, "cc"),
                subject=compose.reply_subject(parent.subject), text=req.text, html=req.html,
                attachment_ids=list(req.attachments), thread_id=None,
                headers=compose.check_custom_headers(req.headers),
                send_at=self.check_send_at(req.send_at), unless_replied=req.send_unless_replied,
                require_approval=req.require_approval, in_reply_to=in_reply_to, references=refs,
            )  # fmt: skip
        except ComposeError as exc:
            raise invalid(exc) from None
        self._check_count(draft)
        body = req.model_dump(mode="json")
        return await self.submit(principal, draft, "reply", message_id, body, idempotency_key)

    def _revalidate(self, addrs: list[tuple[str, str]], fld: str) -> list[tuple[str, str]]:
        # Addresses from a received message are untrusted input too.
        out = []
        for name, email in addrs:
            try:
                out.append((" ".join(name.split())[:200], compose.parse_address(email, fld)[1]))
            except ComposeError:
                continue
        return out

    async def forward(self, principal: Principal, message_id: str, req: ForwardRequest,
                      idempotency_key: str | None = None) -> SendOutcome:  # fmt: skip
        async with self.sessionmaker() as db:
            parent = await messages.get_message(db, principal.scope, message_id)
            atts = await messages.attachments_of(db, parent)
        try:
            to, cc = compose.parse_addresses(req.to, "to"), compose.parse_addresses(req.cc, "cc")
        except ComposeError as exc:
            raise invalid(exc) from None
        draft = Draft(inbox_id=parent.inbox_id, to=to, cc=cc,
                      subject=compose.forward_subject(parent.subject),
                      send_at=self.check_send_at(req.send_at),
                      require_approval=req.require_approval)  # fmt: skip
        if req.mode == "attachment":
            draft.text, draft.forwarded_sha = req.comment or "", parent.raw_sha256
        else:
            sender = f"{parent.from_name} <{parent.from_address}>" if parent.from_name else parent.from_address
            draft.text = compose.forward_body(
                req.comment, parent.text or parent.stripped_text or "", sender=sender,
                date=(parent.sent_at or parent.received_at).isoformat(), subject=parent.subject,
                to=", ".join(a.get("email", "") for a in parent.to or []),
            )  # fmt: skip
            draft.attachment_ids = [a.id for a in atts]
        self._check_count(draft)
        body = req.model_dump(mode="json")
        return await self.submit(principal, draft, "forward", message_id, body, idempotency_key)

    async def submit(self, principal: Principal, draft: Draft, operation: str, target: str,
                      body: dict[str, Any], key: str | None) -> SendOutcome:  # fmt: skip
        claim_id = None
        if key is not None:
            async with self.sessionmaker.begin() as db:
                claim = await outbound.claim_key(
                    db, org_id=principal.org_id, api_key_id=principal.key_id, key=key,
                    operation=operation, request_hash=request_hash(operation, target, body))
            if claim.outcome == "mismatch":
                raise ApiError(422, IDEMPOTENCY_MISMATCH,
                               "this Idempotency-Key was used with a different request",
                               [{"field": "Idempotency-Key", "message": "reused with another body"}])
            if claim.outcome == "in_flight":
                raise ApiError(409, errors.CONFLICT, "a request with this Idempotency-Key is in flight",
                               [{"field": "Idempotency-Key", "message": "in flight"}])  # fmt: skip
            if claim.outcome == "replay":
                assert claim.message_id is not None
                await self._start(claim.message_id)
                return SendOutcome(await self.view(principal, claim.message_id), True, {})
            claim_id = claim.row_id
        try:
            view, rate = await self._store(principal, draft, claim_id)
        except BaseException:
            if claim_id is not None:
                async with self.sessionmaker.begin() as db:
                    await outbound.release_key(db, claim_id)
            raise
        await self._start(view.id)
        return SendOutcome(view, False, rate)

    async def _store(self, principal: Principal, d: Draft,
                     claim_id: str | None) -> tuple[OutboundView, dict[str, str]]:  # fmt: skip
        from api.actions.outbound_store import store_draft

        return await store_draft(self, principal, d, claim_id)

    async def _start(self, message_id: str) -> None:
        """Start the send's workflow. The send is committed before this, so a failure (Temporal
        down) is not the caller's: the answer stays 202 and the worker's OutboundReconciler
        (outbound/reconciler.py) starts it once Temporal is back; a client retry would only
        risk a second mail."""
        try:
            await start_outbound(await self.temporal.get(), self.settings, message_id)
        except Exception as exc:
            log.warning("OutboundMail/%s not started yet (the reconciler will): %s", message_id, exc)

    async def view(self, principal: Principal, message_id: str) -> OutboundView:
        async with self.sessionmaker() as db:
            return await outbound_view(db, principal.scope, message_id)

    def message_id_header(self, inbox_address: str) -> str:
        return f"{uuid.uuid4().hex}@{inbox_address.rpartition('@')[2]}"

    async def build(self, spec: MimeSpec) -> bytes:
        raw = await asyncio.to_thread(compose.build_mime, spec)
        if len(raw) > self.settings.max_message_bytes:
            raise ApiError(413, errors.PAYLOAD_TOO_LARGE,
                           f"the message is {len(raw)} bytes; the limit is "
                           f"{self.settings.max_message_bytes}",
                           [{"field": "attachments", "message": "message too large"}])  # fmt: skip
        return raw


__all__ = ["Draft", "Message", "Outbound", "OutgoingAttachment", "SendOutcome", "start_outbound"]
