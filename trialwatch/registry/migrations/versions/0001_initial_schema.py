"""Initial schema: trial, trial_version, change, crawl_run, parse_failure, trial_alias.

Revision ID: 0001
Revises:

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "crawl_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("fetched", sa.Integer(), nullable=False),
        sa.Column("new_versions", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("not_found", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "trial",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nct_id", sa.String(11), nullable=False),
        sa.Column("brief_title", sa.Text(), nullable=True),
        sa.Column("overall_status", sa.Text(), nullable=True),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("record_source", sa.String(64), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("trial", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_trial_nct_id"), ["nct_id"], unique=True)
        batch_op.create_index(
            batch_op.f("ix_trial_overall_status"), ["overall_status"], unique=False
        )

    op.create_table(
        "trial_alias",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alias", sa.String(11), nullable=False),
        sa.Column("nct_id", sa.String(11), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("alias", name="uq_trial_alias_alias"),
    )
    with op.batch_alter_table("trial_alias", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_trial_alias_nct_id"), ["nct_id"], unique=False)

    op.create_table(
        "parse_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(64), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("snapshot", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("crawl_run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["crawl_run_id"],
            ["crawl_run.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "trial_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("nct_id", sa.String(11), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("source_url", sa.Text(), nullable=True),
        sa.Column("record_hash", sa.String(64), nullable=False),
        sa.Column("snapshot", sa.String(64), nullable=True),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registry_date", sa.String(10), nullable=True),
        sa.Column("registry_version", sa.String(32), nullable=True),
        sa.Column("crawl_run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["crawl_run_id"],
            ["crawl_run.id"],
        ),
        sa.ForeignKeyConstraint(
            ["trial_id"],
            ["trial.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("trial_version", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_trial_version_first_seen_at"), ["first_seen_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_trial_version_nct_id"), ["nct_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_trial_version_trial_id"), ["trial_id"], unique=False)
        batch_op.create_index(
            "ix_trial_version_trial_source_seen", ["trial_id", "source", "id"], unique=False
        )

    op.create_table(
        "change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("nct_id", sa.String(11), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("from_version_id", sa.Integer(), nullable=False),
        sa.Column("to_version_id", sa.Integer(), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registry_date", sa.String(10), nullable=True),
        sa.ForeignKeyConstraint(
            ["from_version_id"],
            ["trial_version.id"],
        ),
        sa.ForeignKeyConstraint(
            ["to_version_id"],
            ["trial_version.id"],
        ),
        sa.ForeignKeyConstraint(
            ["trial_id"],
            ["trial.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_change_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_change_nct_id"), ["nct_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_change_observed_at"), ["observed_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_change_to_version_id"), ["to_version_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_change_trial_id"), ["trial_id"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_change_trial_id"))
        batch_op.drop_index(batch_op.f("ix_change_to_version_id"))
        batch_op.drop_index(batch_op.f("ix_change_observed_at"))
        batch_op.drop_index(batch_op.f("ix_change_nct_id"))
        batch_op.drop_index(batch_op.f("ix_change_kind"))

    op.drop_table("change")
    with op.batch_alter_table("trial_version", schema=None) as batch_op:
        batch_op.drop_index("ix_trial_version_trial_source_seen")
        batch_op.drop_index(batch_op.f("ix_trial_version_trial_id"))
        batch_op.drop_index(batch_op.f("ix_trial_version_nct_id"))
        batch_op.drop_index(batch_op.f("ix_trial_version_first_seen_at"))

    op.drop_table("trial_version")
    op.drop_table("parse_failure")
    with op.batch_alter_table("trial_alias", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trial_alias_nct_id"))

    op.drop_table("trial_alias")
    with op.batch_alter_table("trial", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trial_overall_status"))
        batch_op.drop_index(batch_op.f("ix_trial_nct_id"))

    op.drop_table("trial")
    op.drop_table("crawl_run")
