"""claims.size, claims.last_modified: a claim carries what the listing said, so planning needs no XCom list

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("claims") as table:
        table.add_column(sa.Column("size", sa.BigInteger))
        table.add_column(sa.Column("last_modified", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("claims") as table:
        table.drop_column("last_modified")
        table.drop_column("size")
