"""Follow-up sequence activities: send one step (through the same send path as the API, as
the key that created the sequence, with an idempotency key per step so a retried activity
never sends a step twice), and record how the sequence ended. Also `notify_replied`, the
inbound pipeline's hook that wakes conditional sends and sequences waiting on a thread."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from temporalio import activity

from contracts.outbound import (
    SIGNAL_THREAD_REPLIED,
    FindConditionalInput,
    FindConditionalResult,
    FollowUpFinishInput,
    FollowUpStepInput,
    FollowUpStepResult,
    ThreadRepliedInput,
)

if TYPE_CHECKING:
    from activities.deps import ActivityDeps
    from api.auth import Principal

# Mail that answers by itself does not count as the reply a conditional send waits for.
NOT_A_REPLY = frozenset({"auto_reply", "bounce"})


class _ActivityClient:
    """The LazyClient interface over the activity's own Temporal client."""

    async def get(self):  # type: ignore[no-untyped-def]
        return activity.client()


class FollowUpActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    async def _principal(self, key_id: str | None) -> Principal | None:
        from api.auth import Principal
        from store.models import ApiKey, User
        from store.scope import TenantScope

        async with self.deps.sessionmaker() as s:
            key = await s.get(ApiKey, key_id) if key_id else None
            user = await s.get(User, key.user_id) if key else None
        now = datetime.now(UTC)
        if key is None or user is None or key.revoked_at or (key.expires_at and key.expires_at < now):
            return None
        restricted = user.role != "admin" and "admin" not in key.scopes
        return Principal(
            key_id=key.id, user_id=user.id, org_id=key.org_id, role=user.role,
            is_superadmin=user.is_superadmin, scopes=frozenset(key.scopes),
            scope=TenantScope(org_id=key.org_id, department_id=user.department_id,
                              restrict_to_department=restricted and user.department_id is not None,
                              inbox_ids=frozenset(key.inbox_ids) if key.inbox_ids is not None else None),
        )  # fmt: skip

    @activity.defn(name="followup.send_step")
    async def send_step(self, inp: FollowUpStepInput) -> FollowUpStepResult:
        from api.actions.outbound import Draft, Outbound
        from api.errors import ApiError
        from outbound.compose import reply_subject
        from store.errors import StoreError
        from store.models import FollowUpSequence, Message

        async with self.deps.sessionmaker() as s:
            seq = await s.get(FollowUpSequence, inp.sequence_id)
            if seq is None or seq.status != "running":
                return FollowUpStepResult(skipped=True)
            step, key_id = dict(seq.steps[inp.index]), seq.api_key_id
            first_id = seq.sent_message_ids[0] if seq.sent_message_ids else None
            first = await s.get(Message, first_id) if first_id else None
            to, subject, inbox_id = list(seq.recipients), seq.subject, seq.inbox_id
            thread_id = first.thread_id if first else seq.thread_id
        principal = await self._principal(key_id)
        if principal is None or not principal.can("mail.send"):
            return FollowUpStepResult(skipped=True)
        draft = Draft(inbox_id=inbox_id, to=[("", a) for a in to],
                      subject=step.get("subject") or (reply_subject(subject) if thread_id else subject),
                      text=step.get("text"), html=step.get("html"), thread_id=thread_id)  # fmt: skip
        ob = Outbound(self.deps.sessionmaker, self.deps.blobs, _ActivityClient(), self.deps.settings)  # type: ignore[arg-type]
        try:
            outcome = await ob.submit(principal, draft, "follow_up", inp.sequence_id,
                                       {"index": inp.index}, f"{inp.sequence_id}:{inp.index}")
        except (ApiError, StoreError) as exc:  # refused by policy, rate limit, a deleted inbox
            activity.logger.warning("follow-up step %s/%d refused: %s", inp.sequence_id, inp.index, exc)
            return FollowUpStepResult(skipped=True)
        async with self.deps.sessionmaker.begin() as s:
            seq = await s.get(FollowUpSequence, inp.sequence_id)
            assert seq is not None
            if outcome.view.id not in seq.sent_message_ids:
                seq.sent_message_ids = [*seq.sent_message_ids, outcome.view.id]
            seq.thread_id = seq.thread_id or outcome.view.thread_id
        return FollowUpStepResult(message_id=outcome.view.id)

    @activity.defn(name="followup.finish")
    async def finish(self, inp: FollowUpFinishInput) -> None:
        from store.models import FollowUpSequence

        async with self.deps.sessionmaker.begin() as s:
            seq = await s.get(FollowUpSequence, inp.sequence_id)
            if seq is not None and seq.status == "running":
                seq.status = inp.status

    @activity.defn(name="outbound.notify_replied")
    async def notify_replied(self, inp: FindConditionalInput) -> FindConditionalResult:
        """Signal conditional sends and follow-up sequences waiting on the message's thread."""
        from sqlalchemy import select
        from temporalio.service import RPCError

        from store import outbound
        from store.models import FollowUpSequence, Message
        from workflows import ids

        if not inp.thread_id:
            return FindConditionalResult()
        async with self.deps.sessionmaker() as s:
            msg = await s.get(Message, inp.message_id)
            if msg is None or msg.direction != "inbound" or msg.category in NOT_A_REPLY:
                return FindConditionalResult()
            waiting = [ids.outbound(m) for m in await outbound.waiting_conditional(s, inp.thread_id)]
            seqs = await s.scalars(select(FollowUpSequence.workflow_id).where(
                FollowUpSequence.thread_id == inp.thread_id, FollowUpSequence.status == "running"))
            waiting += list(seqs)
        client = activity.client()
        woken = []
        signal = ThreadRepliedInput(thread_id=inp.thread_id, message_id=inp.message_id)
        for workflow_id in waiting:
            try:
                await client.get_workflow_handle(workflow_id).signal(SIGNAL_THREAD_REPLIED, signal)
                woken.append(workflow_id)
            except RPCError:  # it finished meanwhile
                continue
        return FindConditionalResult(workflow_ids=woken)
