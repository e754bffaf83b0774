"""Agent-to-agent mail (the Pidgebox-compatible operations), shared by the routes and MCP tools.

An alias `x` is the inbox `x@{settings.agents_domain}`. Mail between aliases never touches
SMTP: it is composed as a real RFC 5322 message and stored by `ingress.acceptance.accept`, so
it runs the same InboundMail pipeline (parse, thread, categorise, wake waits) as outside mail.
This module decides who may act as which alias; the SQL stays in `store/`. Decisions:
- `as` must be an alias the key can see (org, department, the key's inbox list); another
  org's alias is a 404. An alias nobody owns is created in the caller's org on first use by
  send, inbox and wait (read and delete never create). The alias namespace is global, so
  "taken by someone" cannot be hidden, as with `POST /v1/inboxes`.
- Recipients are addresses, as in email: another org's alias receives; an unknown one is
  created in the sender's org. Keys limited to listed inboxes never create aliases (404).
- No sender's copy is stored: a mailbox holds received mail (Pidgebox semantics) and the store
  has no outbound insert yet. Replies thread through In-Reply-To/References.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Annotated

from litestar.datastructures import State
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError

from api.actions import waits as wait_actions
from api.audit import audit_action
from api.auth import Principal
from api.errors import ApiError
from api.routes.inboxes import LOCAL_PART
from contracts import errors
from contracts.messages import MessageView
from contracts.waits import WaitFilters
from ingress.acceptance import Envelope, accept
from ingress.handoff import Handoff
from mailparse.subjects import is_reply_subject
from settings import Settings
from store import inboxes, messages
from store.blobs import BlobStore
from store.errors import Conflict, NotFound
from store.models import Inbox, Message
from store.views import message_view
from temporal_client import LazyClient
from workflows import ids

MAX_RECIPIENTS = 50
MAX_WAIT_SECONDS = 90
# Enough ancestry to thread on; bounded so a long conversation cannot grow headers forever.
MAX_REFERENCES = 20
REPLY_NOT_LOCAL = "reply_not_local"
_LOCAL = re.compile(LOCAL_PART)
# A msg-id we are willing to echo into In-Reply-To/References: printable ASCII without <>.
_SAFE_ID = re.compile(r"[!-;=?-~]{1,250}")


def _text(value: str) -> str:
    if "\x00" in value:  # PostgreSQL cannot store NUL; the pipeline would fail on it forever
        raise ValueError("must not contain NUL characters")
    value.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError, a ValueError: a 400
    return value


def _one_line(value: str) -> str:
    # splitlines() knows every line break Python's email package might fold or split on.
    if "".join(_text(value).splitlines()) != value:
        raise ValueError("must be one line (no CR, LF or other line breaks)")
    return value


Body = Annotated[str, Field(max_length=1_000_000), AfterValidator(_text)]


class _AsAlias(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    as_: str = Field(alias="as", min_length=1, max_length=320, description="Your mailbox alias")


class SendMail(_AsAlias):
    to: str | list[str] = Field(description=f"An alias, or a list of up to {MAX_RECIPIENTS}")
    subject: Annotated[str, Field(max_length=1000), AfterValidator(_one_line)]
    body: Body

    @field_validator("to")
    @classmethod
    def _recipients(cls, v: str | list[str]) -> list[str]:
        items = [v] if isinstance(v, str) else v
        if not 1 <= len(items) <= MAX_RECIPIENTS:
            raise ValueError(f"give 1 to {MAX_RECIPIENTS} recipients")
        return items


class MessageRef(_AsAlias):
    message_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_]+$")


class ReplyMail(MessageRef):
    body: Body


class WaitMail(_AsAlias):
    from_: Annotated[str | None, AfterValidator(lambda v: v and _text(v))] = Field(
        None, alias="from", max_length=320, description="Only this sender (alias or address)"
    )
    max_wait_seconds: int = Field(30, ge=1, le=MAX_WAIT_SECONDS)


def _missing(field: str, message: str) -> ApiError:
    return ApiError(404, errors.NOT_FOUND, message, [{"field": field, "message": message}])


@dataclass(frozen=True)
class AgentMail:
    """The operations, over the app's database, blob store, hand-off and Temporal client."""

    sessionmaker: async_sessionmaker[AsyncSession]
    blobs: BlobStore
    handoff: Handoff
    temporal: LazyClient
    settings: Settings

    @classmethod
    def of(cls, state: State) -> AgentMail:
        return cls(state.sessionmaker, state.blobs, state.handoff, state.temporal, state.settings)

    @property
    def domain(self) -> str:
        return self.settings.agents_domain.lower()

    def local_part(self, value: str, field: str) -> str:
        """`x` or `x@<agents domain>` as the lower-cased `x`; else a 400 naming `field`."""
        local, at, domain = value.strip().lower().partition("@")
        if not _LOCAL.fullmatch(local) or (at and domain != self.domain):
            why = f"{value[:80]!r} is not an alias (x or x@{self.domain})"
            raise ApiError(400, errors.VALIDATION_ERROR, why, [{"field": field, "message": why}])
        return local

    async def send(self, principal: Principal, data: SendMail) -> list[str]:
        """Deliver a new message from `as` to every alias in `to` (deduplicated): message ids."""
        assert isinstance(data.to, list)  # the validator made it one
        wanted = list(dict.fromkeys(self.local_part(t, "to") for t in data.to))
        async with self.sessionmaker.begin() as db:
            me = await self._own(db, principal, data.as_, create=True)
            rcpts = [await self._find_or_create(db, principal, local, "to") for local in wanted]
        # A megabyte of non-ASCII text takes most of a second to encode: off the event loop.
        raw = await asyncio.to_thread(self._compose, me.address, [r.address for r in rcpts],
                                      data.subject, data.body)  # fmt: skip
        return await self._deliver(me.address, {r.id: r.address for r in rcpts}, raw)

    async def reply(self, principal: Principal, data: ReplyMail) -> list[str]:
        """Answer a message of `as`'s mailbox to its sender alias, in the same thread."""
        async with self.sessionmaker.begin() as db:
            me = await self._own(db, principal, data.as_, create=False)
            parent = await self._in_mailbox(db, principal, me, data.message_id)
            to = self._sender_alias(parent)
            target = await self._find_or_create(db, principal, to, "message_id")
        subject = " ".join(parent.subject.split())  # one line, whatever the original carried
        subject = subject if is_reply_subject(subject) else f"Re: {subject}"
        raw = await asyncio.to_thread(self._compose, me.address, [target.address], subject,
                                      data.body, parent=parent)  # fmt: skip
        return await self._deliver(me.address, {target.id: target.address}, raw)

    async def inbox(self, principal: Principal, as_: str,
                    limit: int) -> tuple[Inbox, list[Message]]:  # fmt: skip
        """The mailbox and its received messages, newest first."""
        async with self.sessionmaker.begin() as db:
            box = await self._own(db, principal, as_, create=True)
            flt = messages.MessageFilter(direction="inbound")
            page = await messages.list_for_inbox(db, principal.scope, box.id, flt, limit=limit,
                                                 after=None)  # fmt: skip
        return box, page.items

    async def read(self, principal: Principal, data: MessageRef) -> MessageView:
        """The whole message, now marked read."""
        async with self.sessionmaker.begin() as db:
            box = await self._own(db, principal, data.as_, create=False)
            msg = await self._in_mailbox(db, principal, box, data.message_id)
            msg.is_read = True
            await db.flush()
            return message_view(msg, await messages.attachments_of(db, msg))

    async def delete(self, principal: Principal, data: MessageRef) -> None:
        """Remove the message from `as`'s mailbox."""
        async with self.sessionmaker.begin() as db:
            box = await self._own(db, principal, data.as_, create=False)
            msg = await self._in_mailbox(db, principal, box, data.message_id)
            await messages.delete_message(db, msg)
            audit_action(db, principal, "message.delete", resource_type="message",
                         resource_id=msg.id)  # fmt: skip

    async def wait(self, principal: Principal, data: WaitMail) -> tuple[str, MessageView | None]:
        """Block until mail from `from` reaches `as`: (WaitForMail id, the message or None)."""
        sender = self._sender_filter(data.from_)
        async with self.sessionmaker.begin() as db:
            box = await self._own(db, principal, data.as_, create=True)
        inp = await wait_actions.create(
            self.sessionmaker, principal, inbox_id=box.id, kind="mail",
            filters=WaitFilters(from_=sender), since=None, timeout_seconds=data.max_wait_seconds,
        )  # fmt: skip
        try:
            result = await wait_actions.start_and_await(self.temporal, self.settings, inp)
        except WorkflowUpdateRPCTimeoutOrCancelledError:  # no worker served it (api/errors: 500)
            raise ApiError(503, errors.UNAVAILABLE, "no worker served the wait; retry") from None
        if result.status != "matched" or result.message_id is None:
            return ids.wait(inp.wait_id), None
        ref = MessageRef.model_validate({"as": box.address, "message_id": result.message_id})
        return ids.wait(inp.wait_id), await self.read(principal, ref)

    async def _own(self, db: AsyncSession, principal: Principal, value: str, *,
                   create: bool) -> Inbox:  # fmt: skip
        """The caller's mailbox `as`: visible to the key, created on first use if `create`."""
        local = self.local_part(value, "as")
        found = await (self._find_or_create(db, principal, local, "as") if create
                       else inboxes.find_by_address(db, f"{local}@{self.domain}"))  # fmt: skip
        try:
            # Visibility (org, department, the key's inbox list) is the scope's decision alone.
            return await inboxes.get_inbox(db, principal.scope, found.id if found else "")
        except NotFound:
            raise _missing("as", f"alias {local!r} is not a mailbox of yours") from None

    async def _find_or_create(self, db: AsyncSession, principal: Principal, local: str,
                              field: str) -> Inbox:  # fmt: skip
        address = f"{local}@{self.domain}"
        found = await inboxes.find_by_address(db, address)
        if found is not None:
            return found
        if principal.scope.inbox_ids is not None:  # such a key could never see the new inbox
            raise _missing(field, f"alias {local!r} is not a mailbox of yours")
        try:
            async with db.begin_nested():  # losing a creation race undoes only this savepoint
                inbox = await inboxes.create_inbox(
                    db, principal.scope, local_part=local, name=local, domain_name=self.domain,
                    department_id=principal.scope.department_id,
                )  # fmt: skip
        except Conflict:
            if (found := await inboxes.find_by_address(db, address)) is None:
                raise
            return found
        audit_action(db, principal, "inbox.create", resource_type="inbox", resource_id=inbox.id,
                     details={"via": "agent_mail"})  # fmt: skip
        return inbox

    async def _in_mailbox(self, db: AsyncSession, principal: Principal, box: Inbox,
                          message_id: str) -> Message:  # fmt: skip
        try:
            msg = await messages.get_message(db, principal.scope, message_id)
        except NotFound:
            msg = None
        if msg is None or msg.inbox_id != box.id:
            raise _missing("message_id", "Not found in your mailbox")
        return msg

    def _sender_alias(self, parent: Message) -> str:
        local, _, domain = parent.from_address.lower().rpartition("@")
        if domain != self.domain or not _LOCAL.fullmatch(local):
            why = f"the sender {parent.from_address[:320]!r} is not an alias on {self.domain}"
            raise ApiError(422, REPLY_NOT_LOCAL, why, [{"field": "message_id", "message": why}])
        return local

    def _sender_filter(self, value: str | None) -> str | None:
        """An alias (or its address) becomes the full address; an outside address stays as is."""
        text = (value or "").strip().lower()
        if not text:
            return None
        if "@" in text and text.rpartition("@")[2] != self.domain:
            return text  # mail from outside, which the SMTP ingress delivered
        return f"{self.local_part(text, 'from')}@{self.domain}"

    def _compose(self, sender: str, rcpts: list[str], subject: str, body: str,
                 *, parent: Message | None = None) -> bytes:  # fmt: skip
        msg = EmailMessage(policy=SMTP)
        msg["From"], msg["To"], msg["Subject"] = sender, ", ".join(rcpts), subject
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = f"<{uuid.uuid4().hex}@{self.domain}>"
        if parent is not None and parent.message_id_header:
            chain = [*(parent.references or []), parent.message_id_header]
            refs = [r for r in chain if _SAFE_ID.fullmatch(r)][-MAX_REFERENCES:]
            if refs and refs[-1] == parent.message_id_header:
                msg["In-Reply-To"] = f"<{refs[-1]}>"
            if refs:
                msg["References"] = " ".join(f"<{r}>" for r in refs)
        msg.set_content(body)
        return msg.as_bytes()

    async def _deliver(self, sender: str, targets: dict[str, str], raw: bytes) -> list[str]:
        env = Envelope(mail_from=sender, targets=targets)
        message_ids = await accept(self.sessionmaker, self.blobs, raw, env)
        # Only after the commit, as the SMTP ingress does: if Temporal is down the rows stay
        # pending and the ingress's reconciler starts their pipelines later.
        self.handoff.start_soon(message_ids)
        return message_ids
