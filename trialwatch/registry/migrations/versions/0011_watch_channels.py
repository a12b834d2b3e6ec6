"""Channels: a watch's alerts go to its email address and to any Apprise URLs, each channel
with its own outbox rows and messages; digests daily or weekly at a set time and zone.

Every existing watch gets one email channel (its address), and its deliveries and messages are
assigned to it. A delivery is now unique per (channel, change) rather than per (watch, change),
and a digest message names its period, at most one per channel.

Revision ID: 0011
Revises: 0010

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "watch_channel",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("watch_id", sa.Integer(), sa.ForeignKey("watch.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(2048), nullable=False),
        sa.Column("sealed", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_watch_channel_watch_id", "watch_channel", ["watch_id"])
    # Added in place (no table is copied: other tables refer to watch and alert_message).
    with op.batch_alter_table("watch", recreate="never") as batch_op:
        batch_op.add_column(sa.Column("digest_at", sa.String(5), nullable=True))
        batch_op.add_column(sa.Column("digest_tz", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("digest_weekday", sa.Integer(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":  # SQLite adds a column with its reference
        op.execute(
            "ALTER TABLE alert_message ADD COLUMN channel_id INTEGER REFERENCES watch_channel (id)"
        )
    else:
        op.add_column("alert_message", sa.Column("channel_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_alert_message_channel_id_watch_channel",
            "alert_message",
            "watch_channel",
            ["channel_id"],
            ["id"],
        )
    op.add_column("alert_message", sa.Column("period", sa.String(40), nullable=True))
    op.create_index(
        "uq_alert_message_period", "alert_message", ["channel_id", "period"], unique=True
    )
    op.add_column("delivery", sa.Column("channel_id", sa.Integer(), nullable=True))

    op.execute(
        "INSERT INTO watch_channel (watch_id, kind, target, created_at) "
        "SELECT id, 'email', email, created_at FROM watch ORDER BY id"
    )
    for table in ("delivery", "alert_message"):
        op.execute(
            f"UPDATE {table} SET channel_id = (SELECT c.id FROM watch_channel c "
            f"WHERE c.watch_id = {table}.watch_id AND c.kind = 'email')"
        )

    # delivery is referred to by no table, so SQLite may copy it to change its constraints.
    with op.batch_alter_table("delivery") as batch_op:
        batch_op.alter_column("channel_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            "fk_delivery_channel_id_watch_channel", "watch_channel", ["channel_id"], ["id"]
        )
        batch_op.drop_constraint("uq_delivery", type_="unique")
        batch_op.create_unique_constraint("uq_delivery_channel", ["channel_id", "change_id"])
        batch_op.create_index("ix_delivery_channel_id", ["channel_id"])


def downgrade() -> None:
    # One delivery per (watch, change) again: the email channel's, else the first channel's.
    op.execute(
        "DELETE FROM delivery WHERE id NOT IN "
        "(SELECT MIN(id) FROM delivery GROUP BY watch_id, change_id)"
    )
    with op.batch_alter_table("delivery") as batch_op:
        batch_op.drop_index("ix_delivery_channel_id")
        batch_op.drop_constraint("uq_delivery_channel", type_="unique")
        batch_op.drop_constraint("fk_delivery_channel_id_watch_channel", type_="foreignkey")
        batch_op.create_unique_constraint("uq_delivery", ["watch_id", "change_id"])
        batch_op.drop_column("channel_id")
    op.drop_index("uq_alert_message_period", table_name="alert_message")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(
            "fk_alert_message_channel_id_watch_channel", "alert_message", type_="foreignkey"
        )
    with op.batch_alter_table("alert_message", recreate="never") as batch_op:
        batch_op.drop_column("period")
        batch_op.drop_column("channel_id")
    with op.batch_alter_table("watch", recreate="never") as batch_op:
        batch_op.drop_column("digest_weekday")
        batch_op.drop_column("digest_tz")
        batch_op.drop_column("digest_at")
    op.drop_index("ix_watch_channel_watch_id", table_name="watch_channel")
    op.drop_table("watch_channel")
