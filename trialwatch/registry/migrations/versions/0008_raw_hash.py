"""A version's raw hash: the fetched study as last seen, so an unchanged fetch skips parsing.

Revision ID: 0008
Revises: 0007

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("trial_version", sa.Column("raw_hash", sa.String(64), nullable=True))


def downgrade() -> None:
    # SQLite drops a column in place (3.35+): a batch copy of the table would trip the
    # foreign keys that point at it.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE trial_version DROP COLUMN raw_hash")
    else:
        op.drop_column("trial_version", "raw_hash")
