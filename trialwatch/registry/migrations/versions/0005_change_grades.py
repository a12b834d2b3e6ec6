"""The grade of every change (editorial, minor, major) and the least grade a watch hears about.

`change.grade` stays NULL for rows written before this revision: they count as major (never
hidden) until `trialwatch reparse` recomputes them. Existing watches get `min_grade` 'minor',
the default for new ones.

Revision ID: 0005
Revises: 0004

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.add_column(sa.Column("grade", sa.String(16), nullable=True))
        batch_op.create_index(batch_op.f("ix_change_grade"), ["grade"], unique=False)
    with op.batch_alter_table("watch", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("min_grade", sa.String(16), nullable=False, server_default="minor")
        )


def downgrade() -> None:
    # Dropped in place (SQLite 3.35+), never by copying the table: rows in delivery and
    # discrepancy refer to these tables, and SQLite checks foreign keys on the copy's DROP.
    with op.batch_alter_table("watch", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("min_grade")
    with op.batch_alter_table("change", schema=None, recreate="never") as batch_op:
        batch_op.drop_index(batch_op.f("ix_change_grade"))
        batch_op.drop_column("grade")
