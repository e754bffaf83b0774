"""Search, knowledge and AI configuration: the keyword index rows, per-inbox extraction
schemas and knowledge-base items. Vectors live in Chroma, keyed by the same ids."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, FetchedValue, ForeignKey, Index, Integer, String, Text
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, JSONType, utcnow

# The keyword index's document vector on PostgreSQL: stored in `tsv` (a generated column, so
# ranking reads it instead of parsing every matching text again) and GIN-indexed.
TSV_EXPRESSION = "to_tsvector('english'::regconfig, (title || ' '::text) || body)"


class SearchDocument(Base):
    """One searchable text of a message: its subject+body, or one attachment's text.

    PostgreSQL keeps `title || body` as a stored generated tsvector column `tsv` with a GIN
    index (migration 0006; never written by the ORM); SQLite leaves `tsv` NULL and mirrors the
    rows into an FTS5 table kept in step by triggers (search/keyword.py).
    """

    __tablename__ = "search_documents"
    __table_args__ = (
        Index("ix_search_documents_org_inbox", "org_id", "inbox_id"),
        Index("ix_search_documents_tsv", sql_text("tsv"), postgresql_using="gin").ddl_if(
            dialect="postgresql"
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    inbox_id: Mapped[str] = mapped_column(ForeignKey("inboxes.id", ondelete="CASCADE"))
    thread_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    message_id: Mapped[str] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    attachment_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    source_type: Mapped[str] = mapped_column(String(20))  # message | attachment
    title: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    # PostgreSQL: GENERATED ALWAYS AS (TSV_EXPRESSION) STORED; SQLite: always NULL. Deferred,
    # and FetchedValue (server-side) so the ORM never sends it in an INSERT or UPDATE.
    tsv: Mapped[str | None] = mapped_column(
        Text().with_variant(TSVECTOR(), "postgresql"), nullable=True, deferred=True,
        server_default=FetchedValue(), server_onupdate=FetchedValue(),
    )  # fmt: skip
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExtractionSchema(Base):
    """The JSON Schema every inbound message of an inbox is extracted into (one per inbox)."""

    __tablename__ = "extraction_schemas"

    inbox_id: Mapped[str] = mapped_column(
        ForeignKey("inboxes.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    json_schema: Mapped[dict[str, Any]] = mapped_column(JSONType)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class KnowledgeItem(Base):
    """A knowledge-base article (text written through the API) or file (text extracted)."""

    __tablename__ = "knowledge_items"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # article | file
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    filename: Mapped[str | None] = mapped_column(String(255), nullable=True)
    content_type: Mapped[str | None] = mapped_column(String(255), nullable=True)
    size: Mapped[int] = mapped_column(Integer, default=0)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # indexed | skipped (file text could not be read; `skip_reason` says why)
    status: Mapped[str] = mapped_column(String(20), default="indexed")
    skip_reason: Mapped[str | None] = mapped_column(String(300), nullable=True)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
