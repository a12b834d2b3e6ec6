"""Integrity findings: the finding table, the analysts' view audit_findings, watches on
findings, and deliveries of a finding through the same outbox as changes.

A delivery now names a change or a finding (exactly one). Findings are derived: a database
upgraded to this revision holds none until ``trialwatch reparse`` (or the next version of
each trial) computes them, and those computed for the past are never announced.

Revision ID: 0012
Revises: 0011

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VIEW = "audit_findings"


def _view(dialect: str) -> str:
    """The findings that hold today: one row each, with the trial's title."""
    if dialect == "postgresql":
        phase = "(f.detail->>'phase')"
        versions = "(SELECT string_agg(v, ', ') FROM json_array_elements_text(f.version_ids) v)"
        dates = "(SELECT string_agg(d, ', ') FROM json_array_elements_text(f.registry_dates) d)"
        today = "to_char(CURRENT_DATE, 'YYYY-MM-DD')"
    else:
        phase = "json_extract(f.detail, '$.phase')"
        versions = "(SELECT group_concat(value, ', ') FROM json_each(f.version_ids))"
        dates = "(SELECT group_concat(value, ', ') FROM json_each(f.registry_dates))"
        today = "date('now')"
    return f"""CREATE VIEW {VIEW} AS
SELECT f.id AS finding_id,
       f.nct_id,
       t.brief_title,
       f.kind,
       {phase} AS phase,
       f.grade,
       f.since,
       CAST(substr(f.since, 1, 4) AS integer) AS since_year,
       f.text,
       {versions} AS version_ids,
       {dates} AS registry_dates,
       f.first_seen_at
FROM finding f JOIN trial t ON t.id = f.trial_id
WHERE f.resolved_at IS NULL AND f.since <= {today}"""


def upgrade() -> None:
    op.create_table(
        "finding",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("trial_id", sa.Integer(), sa.ForeignKey("trial.id"), nullable=False),
        sa.Column("nct_id", sa.String(11), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("grade", sa.String(16), nullable=False),
        sa.Column("since", sa.String(10), nullable=False),
        sa.Column("version_ids", sa.JSON(), nullable=False),
        sa.Column("registry_dates", sa.JSON(), nullable=False),
        sa.Column("text", sa.String(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("news", sa.Boolean(), nullable=False),
        sa.Column("announced_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("trial_id", "kind", "key", name="uq_finding"),
    )
    for column in ("trial_id", "nct_id", "kind", "since"):
        op.create_index(f"ix_finding_{column}", "finding", [column])
    with op.batch_alter_table("watch", recreate="never") as batch_op:
        batch_op.add_column(sa.Column("findings", sa.JSON(), nullable=True))
    op.add_column("delivery", sa.Column("finding_id", sa.Integer(), nullable=True))
    # delivery is referred to by no table, so SQLite may copy it to change its constraints.
    with op.batch_alter_table("delivery") as batch_op:
        batch_op.alter_column("change_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_foreign_key(
            "fk_delivery_finding_id_finding", "finding", ["finding_id"], ["id"]
        )
        batch_op.create_unique_constraint(
            "uq_delivery_channel_finding", ["channel_id", "finding_id"]
        )
    op.execute(_view(op.get_bind().dialect.name))


def downgrade() -> None:
    op.execute(f"DROP VIEW {VIEW}")
    op.execute("DELETE FROM delivery WHERE change_id IS NULL")
    with op.batch_alter_table("delivery") as batch_op:
        batch_op.drop_constraint("uq_delivery_channel_finding", type_="unique")
        batch_op.drop_constraint("fk_delivery_finding_id_finding", type_="foreignkey")
        batch_op.drop_column("finding_id")
        batch_op.alter_column("change_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("watch", recreate="never") as batch_op:
        batch_op.drop_column("findings")
    for column in ("since", "kind", "nct_id", "trial_id"):
        op.drop_index(f"ix_finding_{column}", table_name="finding")
    op.drop_table("finding")
