"""one-time codes sealed at rest: the message body masks the code

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 00:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REDACTED = "[one-time code, not kept]"


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sealed_body", sa.Text(), nullable=True))
    # Codes queued before this version were kept in clear: they are minutes old at most, so
    # they are failed and blanked rather than sent (the customer asks for another).
    op.execute(
        sa.text(
            "UPDATE messages SET body = :redacted, state = 'failed', "
            "failed_at = CURRENT_TIMESTAMP, "
            "provider_reason = 'queued before codes were sealed; ask for a new code' "
            "WHERE lane = 'otp' AND state IN ('queued', 'sending')"
        ).bindparams(redacted=REDACTED)
    )
    op.execute(
        sa.text("UPDATE messages SET body = :redacted WHERE lane = 'otp'").bindparams(
            redacted=REDACTED
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("sealed_body")
