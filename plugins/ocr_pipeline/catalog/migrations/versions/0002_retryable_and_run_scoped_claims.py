"""documents.retryable; claims scoped to their run's life (dag_id) instead of a fixed lease

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents") as table:
        table.add_column(sa.Column("retryable", sa.Boolean, nullable=False, server_default=sa.false()))
    with op.batch_alter_table("claims") as table:
        table.add_column(sa.Column("dag_id", sa.String(250), nullable=False, server_default=""))
        table.drop_column("expires_at")


def downgrade() -> None:
    with op.batch_alter_table("claims") as table:
        table.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()))
        table.drop_column("dag_id")
    with op.batch_alter_table("documents") as table:
        table.drop_column("retryable")
