"""documents.pdf_uri: the searchable PDF (the document as it came, its text an invisible layer)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents") as table:
        table.add_column(sa.Column("pdf_uri", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("documents") as table:
        table.drop_column("pdf_uri")
