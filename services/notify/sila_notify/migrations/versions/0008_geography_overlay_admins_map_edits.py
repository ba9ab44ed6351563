"""geography overlay: admins' edits of the map, laid over the shipped reference

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 05:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "geography_overlay",
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("code", sa.String(length=4), nullable=False),
        sa.Column("place", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("kind", "code", name=op.f("pk_geography_overlay")),
    )


def downgrade() -> None:
    op.drop_table("geography_overlay")
