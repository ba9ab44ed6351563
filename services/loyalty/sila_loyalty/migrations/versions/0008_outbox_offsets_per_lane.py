"""outbox: the relay's offset memory per lane, so that lanes' marks never wait on each other

(sila_common.migrations.outbox_offsets_per_lane_upgrade)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 18:00:00.000000
"""

from collections.abc import Sequence

from sila_common.migrations import (
    outbox_offsets_per_lane_downgrade,
    outbox_offsets_per_lane_upgrade,
)

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    outbox_offsets_per_lane_upgrade()


def downgrade() -> None:
    outbox_offsets_per_lane_downgrade()
