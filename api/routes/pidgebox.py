"""Pidgebox-compatible agent mail over HTTP: /api/send, inbox, read, delete, reply and wait.

Same API keys and scopes as /v1: send and reply need `mail.send`; inbox, read and wait need
`mail.read` (read and wait mark the message read, as reading does); delete needs
`mail.manage`, like DELETE /v1/messages, so a read-only key never destroys mail. First use of
an alias as `as` creates it under the operation's own scope. POSTs answer 200 as Pidgebox does;
a wait that times out answers 200 `{"timeout": true, "messages": []}` (Pidgebox's timeout
marker) rather than /v1's 408; it covers mail arriving after it starts (earlier mail is in
/api/inbox) and is a 503 when no worker serves it. Its `from` is an alias or address, matched
as a substring of the sender (WaitFilters' rule, so `bob` also matches `xbob`'s address).
Replies reach only agent aliases (422 `reply_not_local`; sending over SMTP is another issue).
The operations live in `api.actions.agent_mail`; this module only shapes HTTP.
"""

from __future__ import annotations

from datetime import datetime

from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.params import Parameter, QueryParameter
from pydantic import BaseModel, ConfigDict, Field

from api.actions.agent_mail import AgentMail, MessageRef, ReplyMail, SendMail, WaitMail
from api.auth import Principal, requires
from contracts.messages import MessageView
from store.models import Message
from workflows import ids

DEFAULT_LIST = 50
MAX_LIST = 100


class SentMail(BaseModel):
    delivered: int
    ids: list[str]
    workflow_ids: list[str] = Field(description="The InboundMail workflow of each delivered copy")

    @classmethod
    def of(cls, message_ids: list[str]) -> SentMail:
        return cls(delivered=len(message_ids), ids=message_ids,
                   workflow_ids=[ids.inbound(i) for i in message_ids])  # fmt: skip


class MailHeader(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    id: str
    from_: str = Field(alias="from")
    to: list[str]
    subject: str
    received_at: datetime
    is_read: bool
    thread_id: str | None

    @classmethod
    def of(cls, m: Message) -> MailHeader:
        # The parsed To once the pipeline ran; until then the address it was delivered to.
        to = [a.get("email", "") for a in m.to or []] or list(m.envelope_to or [])
        return cls(id=m.id, from_=m.from_address, to=to, subject=m.subject,
                   received_at=m.received_at, is_read=m.is_read, thread_id=m.thread_id)  # fmt: skip


class Mailbox(BaseModel):
    mailbox: str
    messages: list[MailHeader]


class Deleted(BaseModel):
    deleted: bool
    message_id: str


class WaitOutcome(BaseModel):
    timeout: bool
    messages: list[MessageView]
    workflow_id: str


class PidgeboxController(Controller):
    path = "/api"
    tags = ["agent mail (Pidgebox)"]

    @post("/send", guards=[requires("mail.send")], status_code=200,
          summary="Send to up to 50 aliases (unknown ones are created)")  # fmt: skip
    async def send(self, data: SendMail, state: State, principal: Principal) -> SentMail:
        return SentMail.of(await AgentMail.of(state).send(principal, data))

    @get("/inbox", guards=[requires("mail.read")], summary="Your mailbox's headers, newest first")
    async def inbox(
        self, state: State, principal: Principal,
        # Optional only so that a missing `as` gets our 400 naming the field (the alias check).
        as_: str | None = QueryParameter(name="as", default=None, max_length=320),
        limit: int = Parameter(default=DEFAULT_LIST, ge=1, le=MAX_LIST),
    ) -> Mailbox:  # fmt: skip
        box, found = await AgentMail.of(state).inbox(principal, as_ or "", limit)
        return Mailbox(mailbox=box.address, messages=[MailHeader.of(m) for m in found])

    @post("/read", guards=[requires("mail.read")], status_code=200,
          summary="Read a message in full (marks it read)")  # fmt: skip
    async def read(self, data: MessageRef, state: State, principal: Principal) -> MessageView:
        return await AgentMail.of(state).read(principal, data)

    @post("/delete", guards=[requires("mail.manage")], status_code=200, summary="Delete a message")
    async def delete(self, data: MessageRef, state: State, principal: Principal) -> Deleted:
        await AgentMail.of(state).delete(principal, data)
        return Deleted(deleted=True, message_id=data.message_id)

    @post("/reply", guards=[requires("mail.send")], status_code=200,
          summary="Reply to the sender alias, in the same thread")  # fmt: skip
    async def reply(self, data: ReplyMail, state: State, principal: Principal) -> SentMail:
        return SentMail.of(await AgentMail.of(state).reply(principal, data))

    @post("/wait", guards=[requires("mail.read")], status_code=200,
          summary="Block up to 90 s for the next message (timeout marker on expiry)")  # fmt: skip
    async def wait(self, data: WaitMail, state: State, principal: Principal) -> WaitOutcome:
        workflow_id, found = await AgentMail.of(state).wait(principal, data)
        messages = [found] if found else []
        return WaitOutcome(timeout=found is None, messages=messages, workflow_id=workflow_id)
