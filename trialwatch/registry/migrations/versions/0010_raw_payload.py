"""Raw payloads in the database: the store of a PostgreSQL database, so that every machine and
worker sharing the database shares it (SQLite keeps its payloads in files beside the database).

Payloads kept before in a folder are moved in by `trialwatch db upgrade` (it reads the folder,
which a migration cannot be told where to find).

Revision ID: 0010
Revises: 0009

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "raw_payload",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Already compressed: PostgreSQL's own TOAST compression would only cost time.
        op.execute("ALTER TABLE raw_payload ALTER COLUMN body SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.drop_table("raw_payload")
