"""offer codes: the catalogue speaks the contracts' vocabulary (IDOOM_FIXE, IDOOM_FIBRE_100M...)

Identity's contracts name offers as agents type them (``IDOOM_FIXE``, ``IDOOM_ADSL_20M``), and
``identity.contract.signed`` carries that code: billing's catalogue now uses the same codes, so
a signed contract becomes its subscription. Rows already written keep their meaning: every
table that names an offer is renamed in place.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 04:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here (a migration never imports live code).
RENAMED = {
    "FIXE": "IDOOM_FIXE",
    "ADSL_10": "IDOOM_ADSL_10M",
    "ADSL_20": "IDOOM_ADSL_20M",
    "VDSL_50": "IDOOM_VDSL_50M",
    "FIBRE_100": "IDOOM_FIBRE_100M",
    "FIBRE_300": "IDOOM_FIBRE_300M",
    "LTE_100GB": "IDOOM_4G_100GB",
    "PRO_FIXE": "IDOOM_FIXE_PRO",
}
TABLES = ("offer_prices", "subscriptions", "invoices", "payments", "recharges", "voucher_batches")


def _rename(pairs: dict[str, str]) -> None:
    for old, new in pairs.items():
        offers = sa.table("offers", sa.column("code", sa.String))
        op.execute(offers.update().where(offers.c.code == old).values(code=new))
        for name in TABLES:
            table = sa.table(name, sa.column("offer_code", sa.String))
            op.execute(table.update().where(table.c.offer_code == old).values(offer_code=new))


def upgrade() -> None:
    _rename(RENAMED)


def downgrade() -> None:
    _rename({new: old for old, new in RENAMED.items()})
