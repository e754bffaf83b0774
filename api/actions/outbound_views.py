"""The public view of an outbound message: its send state, recipients and the message."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.sending import OutboundView, RecipientView
from store import messages, outbound
from store.scope import TenantScope
from store.views import message_view
from workflows import ids


async def outbound_view(db: AsyncSession, scope: TenantScope, message_id: str) -> OutboundView:
    msg, send = await outbound.outbound_of(db, scope, message_id)
    rcpts = await outbound.recipients(db, msg.id)
    return OutboundView(
        id=msg.id, inbox_id=msg.inbox_id, thread_id=msg.thread_id, status=msg.status,
        send_at=send.send_at, send_unless_replied=send.unless_replied,
        requires_approval=send.requires_approval, approval_state=send.approval_state,
        cancel_reason=send.cancel_reason, attempts=send.attempts,
        workflow_id=ids.outbound(msg.id),
        recipients=[RecipientView(address=r.address, kind=r.kind, status=r.status, route=r.route,
                                  last_code=r.last_code, last_response=r.last_response)
                    for r in rcpts],
        message=message_view(msg, await messages.attachments_of(db, msg)),
    )  # fmt: skip
