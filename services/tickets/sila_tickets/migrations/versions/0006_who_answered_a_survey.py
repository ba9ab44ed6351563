"""who answered a survey: the customer, or an agent recording their answer on a call

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 00:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("surveys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answered_by", sa.String(length=150), nullable=True))
        batch_op.add_column(
            sa.Column("recorded_on_call", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("questionnaire_responses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recorded_by", sa.String(length=150), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("questionnaire_responses", schema=None) as batch_op:
        batch_op.drop_column("recorded_by")
    with op.batch_alter_table("surveys", schema=None) as batch_op:
        batch_op.drop_column("recorded_on_call")
        batch_op.drop_column("answered_by")
