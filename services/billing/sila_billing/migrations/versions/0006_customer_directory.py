"""customers: the directory of identity's customers (wilaya), for agents' scope

An agent scoped to some wilayas reads and acts on the bills, payments and lines of the
customers of those wilayas only. Billing keeps, per customer, the wilaya identity's events
(registered, updated, erased) give it. Schema only; filled by the consumer and by identity's
answers for a customer not yet heard of.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 06:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("customer_id", sa.String(36), primary_key=True),
        sa.Column("wilaya_code", sa.String(2), nullable=True),
        sa.Column("erased", sa.Boolean(), nullable=False),
        sa.Column("source_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("customers")
