"""outbox: pending rows in id order

The relay claims the oldest pending rows of the shards it holds (``ORDER BY id LIMIT``).
``ix_outbox_pending`` (shard, id) serves one shard; over several shards PostgreSQL read
and sorted every pending row for each batch. This partial index gives them in id order,
so a claim reads the batch's rows only. Schema only.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 05:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain CREATE INDEX: the migration runs in a transaction (no CONCURRENTLY).
    op.create_index(
        "ix_outbox_pending_id",
        "outbox",
        ["id"],
        unique=False,
        postgresql_where=sa.text("published_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_pending_id", table_name="outbox")
