"""Alert messages claimed before they are sent; held messages and their reason.

A sender claims a message (status 'sending', `claimed_by`, `claimed_at`) before it sends it,
so two senders never send one message; a claim left by a sender that died is taken over.
'held' replaces 'failed': a message a person must act on, its reason in `last_error`, and
`held_settings` the fingerprint of the SMTP settings that failed. Messages that failed before
this revision are held by unknown settings, so the next send with any settings tries them
once more.

Revision ID: 0006
Revises: 0005

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNKNOWN_SETTINGS = "before-0006"


def upgrade() -> None:
    with op.batch_alter_table("alert_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(128), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("held_settings", sa.String(128), nullable=True))
    op.execute(
        sa.text(
            "UPDATE alert_message SET status = 'held', held_settings = :unknown "
            "WHERE status = 'failed'"
        ).bindparams(unknown=UNKNOWN_SETTINGS)
    )


def downgrade() -> None:
    op.execute("UPDATE alert_message SET status = 'failed' WHERE status = 'held'")
    op.execute("UPDATE alert_message SET status = 'pending' WHERE status = 'sending'")
    # Dropped in place, never by copying the table: delivery rows refer to alert_message.
    with op.batch_alter_table("alert_message", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("held_settings")
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("claimed_by")
