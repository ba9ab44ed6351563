"""Algeria's map as it is today: 69 wilayas, 591 daïras, 1,541 communes; commune codes on
customers and contracts; the reform's scope grants.

The data is a frozen copy (`migrations/data/0006_*.csv`) of the reference as this revision
was written (the November 2025 reform included); later changes come through the admin API
or a later revision, never by editing this file or importing live code.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 00:30:00
"""

import csv
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DATA = Path(__file__).resolve().parent.parent / "data"


def _rows(name: str) -> list[dict[str, str]]:
    with (_DATA / f"0006_{name}.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def upgrade() -> None:
    with op.batch_alter_table("wilayas") as batch_op:
        batch_op.add_column(sa.Column("name_en", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("parent_code", sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column("established_on", sa.Date(), nullable=True))
    wilayas = sa.table(
        "wilayas",
        sa.column("code", sa.String),
        sa.column("name_fr", sa.String),
        sa.column("name_ar", sa.String),
        sa.column("name_en", sa.String),
        sa.column("parent_code", sa.String),
        sa.column("established_on", sa.Date),
        sa.column("active", sa.Boolean),
    )
    bind = op.get_bind()
    known = set(bind.execute(sa.select(wilayas.c.code)).scalars())
    for row in _rows("wilayas"):
        values = {
            "name_en": row["name_en"],
            "parent_code": row["parent_code"] or None,
            "established_on": (
                date.fromisoformat(row["established_on"]) if row["established_on"] else None
            ),
        }
        if row["code"] in known:
            bind.execute(sa.update(wilayas).where(wilayas.c.code == row["code"]).values(**values))
        else:
            bind.execute(
                sa.insert(wilayas).values(
                    code=row["code"],
                    name_fr=row["name_fr"],
                    name_ar=row["name_ar"],
                    active=True,
                    **values,
                )
            )
    dairas = op.create_table(
        "dairas",
        sa.Column("code", sa.String(length=4), nullable=False),
        sa.Column("wilaya_code", sa.String(length=2), nullable=False),
        sa.Column("name_fr", sa.String(length=100), nullable=False),
        sa.Column("name_ar", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["wilaya_code"], ["wilayas.code"], name=op.f("fk_dairas_wilaya_code_wilayas")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_dairas")),
    )
    op.create_index("ix_dairas_wilaya_code", "dairas", ["wilaya_code"])
    communes = op.create_table(
        "communes",
        sa.Column("code", sa.String(length=4), nullable=False),
        sa.Column("daira_code", sa.String(length=4), nullable=False),
        sa.Column("wilaya_code", sa.String(length=2), nullable=False),
        sa.Column("name_fr", sa.String(length=100), nullable=False),
        sa.Column("name_ar", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("postal_code", sa.String(length=5), nullable=True),
        sa.Column("former_wilaya_code", sa.String(length=2), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["daira_code"], ["dairas.code"], name=op.f("fk_communes_daira_code_dairas")
        ),
        sa.ForeignKeyConstraint(
            ["wilaya_code"], ["wilayas.code"], name=op.f("fk_communes_wilaya_code_wilayas")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_communes")),
    )
    op.create_index("ix_communes_wilaya_code", "communes", ["wilaya_code"])
    op.bulk_insert(
        dairas,
        [
            {k: r[k] for k in ("code", "wilaya_code", "name_fr", "name_ar", "name_en")}
            for r in _rows("dairas")
        ],
    )
    op.bulk_insert(
        communes,
        [
            {
                "code": r["code"],
                "daira_code": r["daira_code"],
                "wilaya_code": r["wilaya_code"],
                "name_fr": r["name_fr"],
                "name_ar": r["name_ar"],
                "name_en": r["name_en"],
                "postal_code": r["postal_code"] or None,
                "former_wilaya_code": r["former_wilaya_code"] or None,
                "active": True,
            }
            for r in _rows("communes")
        ],
    )
    with op.batch_alter_table("customers") as batch_op:
        batch_op.add_column(sa.Column("commune_code", sa.String(length=4), nullable=True))
        batch_op.create_index("ix_customers_commune_code", ["commune_code"])
    with op.batch_alter_table("contracts") as batch_op:
        batch_op.add_column(
            sa.Column("installation_commune_code", sa.String(length=4), nullable=True)
        )
        batch_op.create_index(
            "ix_contracts_installation_commune_code", ["installation_commune_code"]
        )
    op.create_table(
        "reform_scope_grants",
        sa.Column("agent_id", sa.String(length=36), nullable=False),
        sa.Column("wilaya_code", sa.String(length=2), nullable=False),
        sa.Column("parent_code", sa.String(length=2), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("agent_id", "wilaya_code", name=op.f("pk_reform_scope_grants")),
    )


def downgrade() -> None:
    op.drop_table("reform_scope_grants")
    with op.batch_alter_table("contracts") as batch_op:
        batch_op.drop_index("ix_contracts_installation_commune_code")
        batch_op.drop_column("installation_commune_code")
    with op.batch_alter_table("customers") as batch_op:
        batch_op.drop_index("ix_customers_commune_code")
        batch_op.drop_column("commune_code")
    op.drop_index("ix_communes_wilaya_code", table_name="communes")
    op.drop_table("communes")
    op.drop_index("ix_dairas_wilaya_code", table_name="dairas")
    op.drop_table("dairas")
    with op.batch_alter_table("wilayas") as batch_op:
        batch_op.drop_column("established_on")
        batch_op.drop_column("parent_code")
        batch_op.drop_column("name_en")
