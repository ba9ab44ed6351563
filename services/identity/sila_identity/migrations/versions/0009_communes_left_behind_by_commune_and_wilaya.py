"""customers and installations indexed by commune and wilaya

The job that moves customers and installations after their commune (`flows/reform.py`,
`follow_moved_communes`) asks at every tick whether any row of a moved commune sits in
another wilaya than the commune's. With the commune alone indexed, that read every row of
every moved commune (hundreds of thousands after the 2025 reform, once a minute); with
(commune, wilaya) it is two index range probes per moved commune. The new indexes serve
every query the old ones did (the commune is their first column), so those are dropped.
Schema only.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 11:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain CREATE INDEX: the migration runs in a transaction (no CONCURRENTLY).
    op.create_index(
        "ix_customers_commune_wilaya", "customers", ["commune_code", "wilaya_code"], unique=False
    )
    op.drop_index("ix_customers_commune_code", table_name="customers")
    op.create_index(
        "ix_contracts_installation_commune_wilaya",
        "contracts",
        ["installation_commune_code", "installation_wilaya_code"],
        unique=False,
    )
    op.drop_index("ix_contracts_installation_commune_code", table_name="contracts")


def downgrade() -> None:
    op.create_index(
        "ix_contracts_installation_commune_code",
        "contracts",
        ["installation_commune_code"],
        unique=False,
    )
    op.drop_index("ix_contracts_installation_commune_wilaya", table_name="contracts")
    op.create_index("ix_customers_commune_code", "customers", ["commune_code"], unique=False)
    op.drop_index("ix_customers_commune_wilaya", table_name="customers")
