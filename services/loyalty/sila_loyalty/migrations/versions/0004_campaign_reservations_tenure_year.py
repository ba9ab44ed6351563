"""campaign reservations (budgets taken in short transactions), tenure anniversary year

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 04:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaign_reservations",
        sa.Column("source_key", sa.String(length=200), nullable=False),
        sa.Column("campaign_id", sa.String(length=36), nullable=False),
        sa.Column("cost_centimes", sa.BigInteger(), nullable=False),
        sa.Column("reserved_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source_key", name=op.f("pk_campaign_reservations")),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tenure_celebrated_year", sa.Integer(), nullable=True))
    # Waiting events were written with JSON null, which ``facts IS NULL`` never found: they
    # never left the waiting room. SQL NULL from now on.
    op.execute("UPDATE recorded_events SET facts = NULL WHERE facts = 'null'::jsonb")
    op.execute(
        "UPDATE recorded_events SET pending_event = NULL WHERE pending_event = 'null'::jsonb"
    )


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("tenure_celebrated_year")
    op.drop_table("campaign_reservations")
