"""subcategories: an Arabic label (label_ar) beside the French and English ones

The app and the portal are read in Arabic as much as in French: every subcategory gets its
label in Arabic. The twelve seeded by 0002 get theirs (as written here, frozen); a row added
since gets its French label until an admin writes the Arabic one. Then NOT NULL.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 09:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ARABIC_LABELS: dict[str, str] = {
    "no_connection": "انعدام الاتصال",
    "slow_line": "بطء التدفق",
    "line_cut": "انقطاع الخط",
    "frequent_disconnections": "انقطاعات متكررة",
    "no_dial_tone": "انعدام نغمة الخط",
    "billing_dispute": "الاعتراض على فاتورة",
    "payment_not_credited": "عدم احتساب الدفع",
    "change_of_address": "تغيير العنوان",
    "contract_renewal": "تجديد العقد",
    "subscription_request": "طلب اشتراك",
    "offer_change": "تغيير العرض",
    "promotion_information": "استعلام عن عرض ترويجي",
}

_subcategories = sa.table(
    "subcategories",
    sa.column("code", sa.String),
    sa.column("label_fr", sa.String),
    sa.column("label_ar", sa.String),
)


def upgrade() -> None:
    op.add_column("subcategories", sa.Column("label_ar", sa.String(length=200), nullable=True))
    for code, label in ARABIC_LABELS.items():
        op.execute(
            _subcategories.update().where(_subcategories.c.code == code).values(label_ar=label)
        )
    op.execute(
        _subcategories.update()
        .where(_subcategories.c.label_ar.is_(None))
        .values(label_ar=_subcategories.c.label_fr)
    )
    op.alter_column("subcategories", "label_ar", nullable=False)


def downgrade() -> None:
    op.drop_column("subcategories", "label_ar")
