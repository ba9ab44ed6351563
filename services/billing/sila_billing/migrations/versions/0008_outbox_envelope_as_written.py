"""outbox: the envelope kept as written (json), its correlation id and trace context in columns

The relay's claim reads the envelope's text and the two header values as they are, instead
of rendering each jsonb envelope and looking two attributes up in it
(sila_common.migrations.outbox_envelope_as_written_upgrade).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 17:40:00.000000
"""

from collections.abc import Sequence

from sila_common.migrations import (
    outbox_envelope_as_written_downgrade,
    outbox_envelope_as_written_upgrade,
)

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    outbox_envelope_as_written_upgrade()


def downgrade() -> None:
    outbox_envelope_as_written_downgrade()
