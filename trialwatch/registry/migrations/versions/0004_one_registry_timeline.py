"""One registry timeline per trial: the payload's format becomes a column of the version.

Before this revision each registry payload format (`ctgov`, `ctgov_history`, `ctgov_classic`)
kept a lineage of its own. They are merged into one origin, `ctgov`: each version keeps its
format in `trial_version.format`, and the changes of a merged lineage are recomputed in the
registry's order (its last-update date, then its version number, then first seen), from the
stored records. `parser_version` stays empty for these rows, so the next `reparse` (or the
next ingest of the trial) re-reads their raw snapshots with the current parsers.

Revision ID: 0004
Revises: 0003

"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("trial_version", schema=None) as batch_op:
        batch_op.add_column(sa.Column("format", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("parser_version", sa.String(32), nullable=True))
    op.execute("UPDATE trial_version SET format = source")
    with op.batch_alter_table("trial_version", schema=None) as batch_op:
        batch_op.alter_column("format", existing_type=sa.String(64), nullable=False)

    op.create_table(
        "history_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("nct_id", sa.String(11), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("registry_date", sa.String(10), nullable=True),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["trial_id"], ["trial.id"]),
        sa.ForeignKeyConstraint(["version_id"], ["trial_version.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("nct_id", "version", name="uq_history_entry"),
    )
    with op.batch_alter_table("history_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_history_entry_trial_id"), ["trial_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_history_entry_version_id"), ["version_id"], unique=False
        )

    conn = op.get_bind()
    merged = [
        row[0]
        for row in conn.execute(
            sa.text(
                "SELECT DISTINCT trial_id FROM trial_version "
                "WHERE source IN ('ctgov_history', 'ctgov_classic')"
            )
        )
    ]
    for table, column in (
        ("trial_version", "source"),
        ("change", "source"),
        ("watch", "source"),
        ("discrepancy", "registry_source"),
        ("trial", "record_source"),
    ):
        op.execute(
            sa.text(
                f"UPDATE {table} SET {column} = 'ctgov' "  # noqa: S608 (names are ours)
                f"WHERE {column} IN ('ctgov_history', 'ctgov_classic')"
            )
        )
    for trial_id in merged:
        _relink(conn, trial_id)


def _seen(value: Any) -> datetime:
    """A stored time as naive UTC (SQLite gives text, PostgreSQL an aware datetime)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _key(row: Any) -> tuple[str, int, datetime, int]:
    seen = _seen(row.first_seen_at)
    day = row.registry_date or seen.date().isoformat()
    number = int(row.registry_version) if (row.registry_version or "").isdigit() else 10**9
    return (day, number, seen, row.id)


_CHANGE = sa.table(
    "change",
    sa.column("id", sa.Integer),
    sa.column("trial_id", sa.Integer),
    sa.column("nct_id", sa.String),
    sa.column("source", sa.String),
    sa.column("kind", sa.String),
    sa.column("before", sa.JSON),
    sa.column("after", sa.JSON),
    sa.column("detail", sa.JSON),
    sa.column("from_version_id", sa.Integer),
    sa.column("to_version_id", sa.Integer),
    sa.column("observed_at", sa.DateTime(timezone=True)),
    sa.column("registry_date", sa.String),
)
_DELIVERY = sa.table("delivery", sa.column("change_id", sa.Integer))
_VERSION = sa.table(
    "trial_version",
    sa.column("id", sa.Integer),
    sa.column("trial_id", sa.Integer),
    sa.column("nct_id", sa.String),
    sa.column("source", sa.String),
    sa.column("record", sa.JSON),
    sa.column("registry_date", sa.String),
    sa.column("registry_version", sa.String),
    sa.column("first_seen_at", sa.String),
)


def _relink(conn: sa.Connection, trial_id: int) -> None:
    """Recompute the changes of the trial's merged registry lineage, in the registry's order."""
    # Imported here: only this data step needs the comparison, and only when rows exist.
    from trialwatch.diffing.changes import compare
    from trialwatch.record import TrialRecord

    v = _VERSION.c
    rows = conn.execute(
        sa.select(_VERSION).where(v.trial_id == trial_id, v.source == "ctgov")
    ).all()
    ids = [row.id for row in rows]
    c = _CHANGE.c
    stale = [
        r[0]
        for r in conn.execute(
            sa.select(c.id).where(c.kind != "source_discrepancy", c.to_version_id.in_(ids))
        )
    ]
    if stale:
        conn.execute(sa.delete(_DELIVERY).where(_DELIVERY.c.change_id.in_(stale)))
        conn.execute(sa.delete(_CHANGE).where(c.id.in_(stale)))
    aware = conn.dialect.name != "sqlite"
    ordered = sorted(rows, key=_key)
    for before, after in zip(ordered, ordered[1:], strict=False):
        try:
            found = compare(
                TrialRecord.model_validate(before.record), TrialRecord.model_validate(after.record)
            )
        except ValueError:
            continue  # a record this code can no longer read: `reparse` re-derives it
        seen = max(_key(before)[2], _key(after)[2])
        for item in found:
            conn.execute(
                _CHANGE.insert().values(
                    trial_id=trial_id,
                    nct_id=after.nct_id,
                    source="ctgov",
                    kind=item.kind,
                    before=item.before,
                    after=item.after,
                    detail=item.detail,
                    from_version_id=before.id,
                    to_version_id=after.id,
                    observed_at=seen.replace(tzinfo=UTC) if aware else seen,
                    registry_date=after.registry_date,
                )
            )


def downgrade() -> None:
    # The merged lineage is not split again: each version's format says where it came from.
    op.execute(
        "UPDATE trial_version SET source = format "
        "WHERE format IN ('ctgov_history', 'ctgov_classic')"
    )
    with op.batch_alter_table("history_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_history_entry_version_id"))
        batch_op.drop_index(batch_op.f("ix_history_entry_trial_id"))
    op.drop_table("history_entry")
    with op.batch_alter_table("trial_version", schema=None) as batch_op:
        batch_op.drop_column("parser_version")
        batch_op.drop_column("format")
