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
    if op.get_bind().dialect.name == "postgresql":
        # A daily sweep moves last_seen_at on every version it sees again. With room left in
        # each page, PostgreSQL rewrites such a row in place (a HOT update, no new index
        # entries) instead of growing the table and its indexes by a row a day.
        op.execute("ALTER TABLE trial_version SET (fillfactor = 80)")


def downgrade() -> None:
    # SQLite drops a column in place (3.35+): a batch copy of the table would trip the
    # foreign keys that point at it.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE trial_version DROP COLUMN raw_hash")
    else:
        op.execute("ALTER TABLE trial_version RESET (fillfactor)")
        op.drop_column("trial_version", "raw_hash")
