"""Name keys for search: customers.name_keys (exact keys, GIN-indexed), filled for the
customers already registered.

Name search filters on these keys instead of trigram similarity, which does not scale to
millions of customers sharing a few very common names. The keys are computed in Python
(domain.search.customer_name_keys), in batches of BATCH customers keyed by id; fine for
development and test databases. A production base of millions is better filled by a job
before this revision runs (rows already holding keys are skipped), with the index then
built CONCURRENTLY by hand.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 04:35:01.318166
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from sila_identity.migrations.frozen.name_keys import customer_name_keys_0003 as customer_name_keys

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000

customers = sa.table(
    "customers",
    sa.column("id", sa.String),
    sa.column("wilaya_code", sa.String),
    sa.column("first_name", sa.String),
    sa.column("last_name", sa.String),
    sa.column("first_name_ar", sa.String),
    sa.column("last_name_ar", sa.String),
    sa.column("company_name", sa.String),
    sa.column("erased_at", sa.DateTime(timezone=True)),
    sa.column("name_keys", postgresql.ARRAY(sa.Text())),
)


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "name_keys",
                postgresql.ARRAY(sa.Text()),
                nullable=True,
            )
        )
    _backfill()
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_customers_name_keys", ["name_keys"], unique=False, postgresql_using="gin"
        )


def _backfill() -> None:
    connection = op.get_bind()
    after = ""
    while True:
        rows = connection.execute(
            sa.select(customers)
            .where(
                customers.c.id > after,
                customers.c.erased_at.is_(None),
                customers.c.name_keys.is_(None),
            )
            .order_by(customers.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        filled = [
            {"row_id": row.id, "keys": keys}
            for row in rows
            if (
                keys := customer_name_keys(
                    wilaya_code=row.wilaya_code,
                    first_name=row.first_name,
                    last_name=row.last_name,
                    first_name_ar=row.first_name_ar,
                    last_name_ar=row.last_name_ar,
                    company_name=row.company_name,
                )
            )
        ]
        if filled:
            connection.execute(
                sa.update(customers)
                .where(customers.c.id == sa.bindparam("row_id"))
                .values(name_keys=sa.bindparam("keys")),
                filled,
            )
        after = rows[-1].id


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index("ix_customers_name_keys", postgresql_using="gin")
        batch_op.drop_column("name_keys")
