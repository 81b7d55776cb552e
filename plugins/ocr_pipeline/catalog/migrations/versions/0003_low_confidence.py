"""documents.low_confidence: documents a person should look at

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents") as table:
        table.add_column(sa.Column("low_confidence", sa.Boolean))


def downgrade() -> None:
    with op.batch_alter_table("documents") as table:
        table.drop_column("low_confidence")
