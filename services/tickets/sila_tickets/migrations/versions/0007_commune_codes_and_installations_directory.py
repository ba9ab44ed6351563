"""commune codes in the directory, installations by commune, agencies' commune codes, the
reform's steps done

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 00:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("known_customers") as batch_op:
        batch_op.add_column(sa.Column("commune_code", sa.String(length=4), nullable=True))
    op.create_table(
        "known_installations",
        sa.Column("contract_id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("wilaya_code", sa.String(length=2), nullable=True),
        sa.Column("commune_code", sa.String(length=4), nullable=True),
        sa.Column("daira_code", sa.String(length=4), nullable=True),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("contract_id", name=op.f("pk_known_installations")),
    )
    op.create_index(
        "ix_known_installations_commune", "known_installations", ["commune_code"], unique=False
    )
    op.create_index(
        "ix_known_installations_daira", "known_installations", ["daira_code"], unique=False
    )
    op.create_index(
        "ix_known_installations_customer", "known_installations", ["customer_id"], unique=False
    )
    with op.batch_alter_table("agencies") as batch_op:
        batch_op.add_column(sa.Column("commune_code", sa.String(length=4), nullable=True))
    op.create_table(
        "reform_steps",
        sa.Column("step", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("step", "key", name=op.f("pk_reform_steps")),
    )


def downgrade() -> None:
    op.drop_table("reform_steps")
    with op.batch_alter_table("agencies") as batch_op:
        batch_op.drop_column("commune_code")
    op.drop_index("ix_known_installations_customer", table_name="known_installations")
    op.drop_index("ix_known_installations_daira", table_name="known_installations")
    op.drop_index("ix_known_installations_commune", table_name="known_installations")
    op.drop_table("known_installations")
    with op.batch_alter_table("known_customers") as batch_op:
        batch_op.drop_column("commune_code")
