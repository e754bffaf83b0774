"""search: keyword index rows, extraction schemas, knowledge items

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 04:15:00

PostgreSQL stores `to_tsvector('english', title || ' ' || body)` in a generated column `tsv`
with a GIN index (ranking reads the stored vector; an expression index alone made every query
parse each matching text again); on SQLite `tsv` is a NULL column. SQLite's FTS5 table is
created on first use by search/keyword.py: a virtual table and its shadow tables are not ORM tables, and creating them
here would make the schema differ from the models.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TSV_EXPRESSION = "to_tsvector('english'::regconfig, (title || ' '::text) || body)"


def _tsv_column(postgres: bool) -> list[sa.Column]:
    """PostgreSQL: the document's tsvector, generated and stored, so ranking reads it instead
    of parsing every matching text again. SQLite: a NULL column (FTS5 holds its index)."""
    if postgres:
        return [sa.Column("tsv", postgresql.TSVECTOR(), sa.Computed(TSV_EXPRESSION, persisted=True),
                          nullable=True)]  # fmt: skip
    return [sa.Column("tsv", sa.Text(), nullable=True)]


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "search_documents",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("inbox_id", sa.String(length=40), nullable=False),
        sa.Column("thread_id", sa.String(length=40), nullable=True),
        sa.Column("message_id", sa.String(length=40), nullable=False),
        sa.Column("attachment_id", sa.String(length=40), nullable=True),
        sa.Column("source_type", sa.String(length=20), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        *_tsv_column(postgres),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["inbox_id"], ["inboxes.id"], name=op.f("fk_search_documents_inbox_id_inboxes"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], name=op.f("fk_search_documents_message_id_messages"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_search_documents_org_id_organizations"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_documents")),
    )  # fmt: skip
    with op.batch_alter_table("search_documents", schema=None) as batch_op:
        batch_op.create_index("ix_search_documents_org_inbox", ["org_id", "inbox_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_search_documents_message_id"), ["message_id"], unique=False)
    if postgres:
        op.execute("CREATE INDEX ix_search_documents_tsv ON search_documents USING gin (tsv)")

    op.create_table(
        "extraction_schemas",
        sa.Column("inbox_id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("json_schema", _JSON, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["inbox_id"], ["inboxes.id"], name=op.f("fk_extraction_schemas_inbox_id_inboxes"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_extraction_schemas_org_id_organizations"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("inbox_id", name=op.f("pk_extraction_schemas")),
    )  # fmt: skip
    with op.batch_alter_table("extraction_schemas", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_extraction_schemas_org_id"), ["org_id"], unique=False)

    op.create_table(
        "knowledge_items",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("tags", _JSON, nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("content_type", sa.String(length=255), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("skip_reason", sa.String(length=300), nullable=True),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_knowledge_items_org_id_organizations"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_items")),
    )  # fmt: skip
    with op.batch_alter_table("knowledge_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_knowledge_items_org_id"), ["org_id"], unique=False)


def downgrade() -> None:
    op.drop_table("knowledge_items")
    op.drop_table("extraction_schemas")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS search_fts")
    op.drop_table("search_documents")
