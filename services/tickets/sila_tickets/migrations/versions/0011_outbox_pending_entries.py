"""outbox: pending entries in their own table

What the relay has still to publish moves from ``outbox.published_at IS NULL`` to a narrow
``outbox_pending`` (id, shard) that a trigger fills with every row inserted into the outbox.
Publishing deletes the entries instead of rewriting each wide outbox row (a new version of
it with new entries in three indexes): 0.7–0.9 ms against 4.8–5.3 ms for 500 rows
(docs/benchmarks.md, "Sixth pass"). ``published_at`` and its indexes go; the retention
purge and a replay's window read ``created_at`` (indexed). Pending rows are carried over.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 15:30:00.000000
"""

from collections.abc import Sequence

from sila_common.migrations import outbox_pending_table_downgrade, outbox_pending_table_upgrade

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    outbox_pending_table_upgrade()


def downgrade() -> None:
    outbox_pending_table_downgrade()
