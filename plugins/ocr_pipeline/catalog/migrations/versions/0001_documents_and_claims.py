"""documents and claims

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source_uri", sa.Text, nullable=False),
        sa.Column("etag", sa.String(128), nullable=False),
        sa.Column("size", sa.BigInteger),
        sa.Column("last_modified", sa.DateTime(timezone=True)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("pages", sa.Integer),
        sa.Column("characters", sa.Integer),
        sa.Column("mean_confidence", sa.Float),
        sa.Column("low_text", sa.Boolean),
        sa.Column("engine", sa.String(256)),
        sa.Column("text_uri", sa.Text),
        sa.Column("markdown_uri", sa.Text),
        sa.Column("json_uri", sa.Text),
        sa.Column("quarantine_uri", sa.Text),
        sa.Column("dag_id", sa.String(250)),
        sa.Column("run_id", sa.String(250)),
        sa.Column("try_number", sa.Integer),
        sa.Column("batch_id", sa.String(64)),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("source_uri", "etag", name="uq_documents_source_etag"),
    )
    op.create_index("ix_documents_run_id", "documents", ["run_id"])
    op.create_table(
        "claims",
        sa.Column("source_uri", sa.Text, nullable=False),
        sa.Column("etag", sa.String(128), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source_uri", "etag", name="pk_claims"),
    )
    op.create_index("ix_claims_run_id", "claims", ["run_id"])


def downgrade() -> None:
    op.drop_table("claims")
    op.drop_table("documents")
