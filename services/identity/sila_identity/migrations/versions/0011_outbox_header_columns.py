"""outbox: the correlation id and trace context in columns of their own

The relay's claim reads the two header values from them instead of looking them up in each
jsonb envelope (``sila_common.migrations.outbox_header_columns_upgrade``; an expand step).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 17:40:00.000000
"""

from collections.abc import Sequence

from sila_common.migrations import (
    outbox_header_columns_downgrade,
    outbox_header_columns_upgrade,
)

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    outbox_header_columns_upgrade()


def downgrade() -> None:
    outbox_header_columns_downgrade()
