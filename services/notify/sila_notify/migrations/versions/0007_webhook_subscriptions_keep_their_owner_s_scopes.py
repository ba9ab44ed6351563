"""webhook subscriptions keep their owner's scopes (what a partner may receive)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 00:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from sila_common.db import JsonDoc

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Subscriptions made before this version have no scopes: a partner's receives nothing
    # until the partner saves it again (PATCH) with a token carrying the scopes it needs.
    with op.batch_alter_table("webhook_subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_scopes", JsonDoc, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions", schema=None) as batch_op:
        batch_op.drop_column("owner_scopes")
