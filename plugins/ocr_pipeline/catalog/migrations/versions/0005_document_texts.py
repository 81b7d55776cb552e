"""document_texts: the recognised text for full-text search (its tsvector stored on PostgreSQL); documents indexed by processed_at and status

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "document_texts",
        sa.Column("source_uri", sa.Text, nullable=False),
        sa.Column("etag", sa.String(128), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("source_uri", "etag", name="pk_document_texts"),
    )
    if op.get_bind().dialect.name == "postgresql":
        # stored, not an expression index: a search that matches most documents must not recompute them all
        op.execute(
            "ALTER TABLE document_texts ADD COLUMN search tsvector "
            "GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED"
        )
        op.execute("CREATE INDEX ix_document_texts_search ON document_texts USING gin (search)")
    op.create_index("ix_documents_processed_at", "documents", ["processed_at"])
    op.create_index("ix_documents_status", "documents", ["status", "processed_at"])


def downgrade() -> None:
    op.drop_index("ix_documents_status", "documents")
    op.drop_index("ix_documents_processed_at", "documents")
    op.drop_table("document_texts")
