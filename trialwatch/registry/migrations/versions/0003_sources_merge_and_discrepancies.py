"""Field-level merge across sources, trial identifiers, and open discrepancies.

Revision ID: 0003
Revises: 0002

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "trial_identifier",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identifier", sa.String(191), nullable=False),
        sa.Column("nct_id", sa.String(11), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("identifier", "nct_id", name="uq_trial_identifier"),
    )
    with op.batch_alter_table("trial_identifier", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_trial_identifier_identifier"), ["identifier"], unique=False
        )

    op.create_table(
        "discrepancy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("nct_id", sa.String(11), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("site_source", sa.String(64), nullable=False),
        sa.Column("site_value", sa.JSON(), nullable=True),
        sa.Column("registry_source", sa.String(64), nullable=False),
        sa.Column("registry_value", sa.JSON(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["change_id"],
            ["change.id"],
        ),
        sa.ForeignKeyConstraint(
            ["trial_id"],
            ["trial.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("discrepancy", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_discrepancy_closed_at"), ["closed_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_discrepancy_trial_id"), ["trial_id"], unique=False)

    with op.batch_alter_table("trial", schema=None) as batch_op:
        batch_op.add_column(sa.Column("field_sources", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""

    with op.batch_alter_table("trial", schema=None) as batch_op:
        batch_op.drop_column("field_sources")

    with op.batch_alter_table("discrepancy", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_discrepancy_trial_id"))
        batch_op.drop_index(batch_op.f("ix_discrepancy_closed_at"))

    op.drop_table("discrepancy")
    with op.batch_alter_table("trial_identifier", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trial_identifier_identifier"))

    op.drop_table("trial_identifier")
