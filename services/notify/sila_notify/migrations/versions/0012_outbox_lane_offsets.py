"""outbox: the relay's offset memory per lane, in a table of its own, so that lanes' marks
never wait on each other (``sila_common.migrations.outbox_lane_offsets_table_upgrade``; an
expand step: the running version keeps its table)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 18:00:00.000000
"""

from collections.abc import Sequence

from sila_common.migrations import (
    outbox_lane_offsets_table_downgrade,
    outbox_lane_offsets_table_upgrade,
)

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    outbox_lane_offsets_table_upgrade()


def downgrade() -> None:
    outbox_lane_offsets_table_downgrade()
