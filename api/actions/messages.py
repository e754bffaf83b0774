"""Message service functions shared by the REST routes and the MCP/agent tools: list, read,
flag (read/starred/archived) and label."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession

from api.audit import audit_action
from api.auth import Principal
from contracts.messages import MessageSummaryView, MessageView
from store import inboxes, messages
from store.errors import Invalid
from store.pagination import Page
from store.views import message_summary, message_view

# Labels the pipeline sets from its own verdicts: an agent may read but never change them.
SYSTEM_LABELS = frozenset({"spam", "unauthenticated"})
LABEL = re.compile(r"^[a-z0-9][a-z0-9._:-]{0,39}$")
MAX_LABELS = 50


async def list_for_inbox(
    db: AsyncSession, principal: Principal, inbox_id: str, flt: messages.MessageFilter, *,
    limit: int, after: str | None,
) -> Page[MessageSummaryView]:  # fmt: skip
    await inboxes.get_inbox(db, principal.scope, inbox_id)  # 404 for invisible inboxes
    page = await messages.list_for_inbox(db, principal.scope, inbox_id, flt, limit=limit, after=after)
    return Page(items=[message_summary(m) for m in page.items], next_after=page.next_after)


async def read(db: AsyncSession, principal: Principal, message_id: str) -> MessageView:
    msg = await messages.get_message(db, principal.scope, message_id)
    return message_view(msg, await messages.attachments_of(db, msg))


def _check_labels(field: str, labels: list[str]) -> None:
    for label in labels:
        if not LABEL.match(label):
            raise Invalid(f"invalid label {label!r} (lower-case letters, digits, . _ : -)", field=field)
        if label in SYSTEM_LABELS:
            raise Invalid(f"{label!r} is set by Postflow and cannot be changed", field=field)


async def update(
    db: AsyncSession, principal: Principal, message_id: str, *, flags: dict[str, bool],
    add_labels: list[str] = (), remove_labels: list[str] = (),  # type: ignore[assignment]
) -> MessageView:  # fmt: skip
    """Set flags (`is_read`, `is_starred`, `is_archived`) and add/remove labels; audited."""
    _check_labels("add_labels", list(add_labels))
    _check_labels("remove_labels", list(remove_labels))
    msg = await messages.get_message(db, principal.scope, message_id)
    for field, value in flags.items():
        setattr(msg, field, value)
    if add_labels or remove_labels:
        labels = [lb for lb in msg.labels if lb not in set(remove_labels)]
        labels += [lb for lb in dict.fromkeys(add_labels) if lb not in labels]
        if len(labels) > MAX_LABELS:
            raise Invalid(f"at most {MAX_LABELS} labels per message", field="add_labels")
        msg.labels = labels  # a new list: JSON columns only notice reassignment
    await db.flush()
    audit_action(db, principal, "message.update", resource_type="message", resource_id=message_id,
                 details={"flags": flags, "add_labels": list(add_labels),
                          "remove_labels": list(remove_labels)})  # fmt: skip
    return message_view(msg, await messages.attachments_of(db, msg))


async def remove(db: AsyncSession, principal: Principal, message_id: str) -> None:
    """Delete a message and its attachments; audited."""
    msg = await messages.get_message(db, principal.scope, message_id)
    await messages.delete_message(db, msg)
    audit_action(db, principal, "message.delete", resource_type="message", resource_id=message_id)
