"""one-time codes out of the outbox

Before this revision ``identity.otp.requested`` carried the code in clear, and the outbox
keeps published events for its retention window (a week): every code asked for in that
window was readable in this table. The code member is removed from those rows; events
recorded from now on carry it sealed for notify (``sealed_code``, ``key_id``). An old
event not yet published goes out without a code, and notify fails its message (the code
lives five minutes: the customer asks again). Data only; no schema change.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 05:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        UPDATE outbox
           SET envelope = jsonb_set(envelope, '{data}', (envelope -> 'data') - 'code')
         WHERE event_type = 'identity.otp.requested'
           AND envelope -> 'data' -> 'code' IS NOT NULL
        """
    )


def downgrade() -> None:
    # The codes removed are gone (and expired long ago): nothing to restore.
    pass
