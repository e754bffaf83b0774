"""Building the public views (`contracts.messages`) from rows."""

from __future__ import annotations

from typing import Any

from contracts.messages import (
    AddressView,
    AttachmentView,
    ExtractedView,
    MessageSummaryView,
    MessageView,
    ThreadView,
)
from store.models import Attachment, Message, Thread


def _addrs(items: list[dict[str, str]] | None) -> list[AddressView]:
    return [AddressView(name=a.get("name", ""), email=a.get("email", "")) for a in items or []]


def _summary_fields(m: Message) -> dict[str, Any]:
    return dict(
        id=m.id, inbox_id=m.inbox_id, thread_id=m.thread_id, direction=m.direction,
        status=m.status, pipeline_state=m.pipeline_state, subject=m.subject,
        from_=AddressView(name=m.from_name, email=m.from_address), to=_addrs(m.to),
        snippet=m.snippet, category=m.category, labels=list(m.labels or []),
        has_attachments=m.has_attachments, is_read=m.is_read, is_starred=m.is_starred,
        is_archived=m.is_archived, received_at=m.received_at, workflow_id=m.workflow_id,
        **_ai_fields(m),
    )  # fmt: skip


def _ai_fields(m: Message) -> dict[str, Any]:
    """Search issue: what the screening and LLM steps stored in `analysis`."""
    analysis = m.analysis or {}
    screening = analysis.get("prompt_injection")
    return {"prompt_injection": screening if isinstance(screening, dict) else None,
            "summary": analysis.get("summary")}  # fmt: skip


def message_summary(m: Message) -> MessageSummaryView:
    return MessageSummaryView(**_summary_fields(m))


def attachment_view(a: Attachment) -> AttachmentView:
    return AttachmentView(
        id=a.id, filename=a.filename, content_type=a.content_type, size=a.size, sha256=a.sha256,
        inline=a.inline, content_id=a.content_id,
    )  # fmt: skip


def message_view(m: Message, attachments: list[Attachment]) -> MessageView:
    return MessageView(
        **_summary_fields(m), message_id=m.message_id_header, in_reply_to=m.in_reply_to,
        references=list(m.references or []), cc=_addrs(m.cc), reply_to=_addrs(m.reply_to),
        envelope_from=m.envelope_from, envelope_to=list(m.envelope_to or []),
        headers=m.headers or [], text=m.text, html=m.html, stripped_text=m.stripped_text,
        size=m.size, sent_at=m.sent_at, extracted=ExtractedView(**(m.extracted or {})),
        authentication_results=m.authentication_results,
        attachments=[attachment_view(a) for a in attachments],
        extracted_data=(m.analysis or {}).get("extracted_data"),
        extraction_error=(m.analysis or {}).get("extraction_error"),
    )  # fmt: skip


def thread_view(t: Thread) -> ThreadView:
    return ThreadView(
        id=t.id, inbox_id=t.inbox_id, subject=t.subject, participants=list(t.participants),
        message_count=t.message_count, last_message_at=t.last_message_at, snippet=t.snippet,
        last_direction=t.last_direction, has_attachments=t.has_attachments,
        created_at=t.created_at,
    )  # fmt: skip
