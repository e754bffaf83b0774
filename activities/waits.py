"""Wait activities: find mail that already arrived after `since`, and record how a wait ended."""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import activity

from contracts.waits import FinishWaitInput, WaitInput, WaitResult, matches, otp_of_summary

if TYPE_CHECKING:
    from activities.deps import ActivityDeps


class WaitActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn(name="waits.find_existing")
    async def find_existing(self, inp: WaitInput) -> WaitResult:
        """The oldest processed message since `since` that matches, if any."""
        from store import messages, waits

        async with self.deps.sessionmaker() as session:
            for m in await waits.candidates_since(session, inp.inbox_id, inp.since):
                summary = messages.summary_of(m)
                if matches(inp.kind, inp.filters, summary, inp.since):
                    otp = otp_of_summary(summary) if inp.kind == "otp" else None
                    if otp is not None:  # stored codes carry the authentication verdict
                        otp.trusted = ((m.extracted or {}).get("otp_codes") or [{}])[0].get("trusted")
                    return WaitResult(wait_id=inp.wait_id, status="matched", message_id=m.id,
                                      otp=otp)  # fmt: skip
        return WaitResult(wait_id=inp.wait_id, status="active")

    @activity.defn(name="waits.finish")
    async def finish(self, inp: FinishWaitInput) -> None:
        from store import waits

        async with self.deps.sessionmaker.begin() as session:
            await waits.finish(session, inp.wait_id, inp.status, inp.message_id)
