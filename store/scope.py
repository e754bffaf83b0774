"""Tenant and mailbox visibility, expressed as SQL so every query carries it.

A `TenantScope` is built once per request from the API key and user; store functions take it
and add `inbox_filter()` to their WHERE clause. Another tenant's row is simply not found.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.sql import Select

from store.models import Inbox


@dataclass(frozen=True)
class TenantScope:
    org_id: str
    # Members see inboxes of their department and inboxes assigned to none.
    department_id: str | None = None
    restrict_to_department: bool = False
    # A key limited to some inboxes sees only those (None: no such limit).
    inbox_ids: frozenset[str] | None = None

    @property
    def sees_all_inboxes(self) -> bool:
        return not self.restrict_to_department and self.inbox_ids is None

    def inbox_filter(self) -> ColumnElement[bool]:
        clauses: list[ColumnElement[bool]] = [Inbox.org_id == self.org_id]
        if self.restrict_to_department:
            clauses.append(
                or_(Inbox.department_id.is_(None), Inbox.department_id == self.department_id)
            )
        if self.inbox_ids is not None:
            clauses.append(Inbox.id.in_(sorted(self.inbox_ids)))
        return and_(*clauses)

    def visible_inbox_ids(self) -> Select[tuple[str]]:
        return select(Inbox.id).where(self.inbox_filter())

    def owns_inbox_column(self, org_col: object, inbox_col: object) -> ColumnElement[bool]:
        """Filter for a table with org_id and inbox_id columns (messages, threads ...)."""
        clause = org_col == self.org_id  # type: ignore[operator]
        if self.sees_all_inboxes:
            return clause  # type: ignore[no-any-return]
        return and_(clause, inbox_col.in_(self.visible_inbox_ids()))  # type: ignore[attr-defined]
