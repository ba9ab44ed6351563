"""Billing's tables: the catalogue and its prices, subscriptions, bills, payments, vouchers."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from sila_common.db import BigId, UtcDateTime, new_metadata
from sila_common.outbox import messaging_tables

metadata = new_metadata()
messaging = messaging_tables(metadata)

OPEN_PAYMENT = text("state IN ('created', 'pending')")

offers = Table(
    "offers",
    metadata,
    Column("code", String(40), primary_key=True),
    Column("name", String(120), nullable=False),
    Column("technology", String(10), nullable=False),
    Column("billing", String(10), nullable=False),
    Column("segment", String(20), nullable=False),
    Column("speed_mbps", Integer, nullable=True),
    Column("volume_gb", Integer, nullable=True),
    Column("validity_days", Integer, nullable=True),
    Column("active", Boolean, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

# A price change is a new version from a moment on; rows are never updated.
offer_prices = Table(
    "offer_prices",
    metadata,
    Column("offer_code", String(40), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("price_centimes", BigId, nullable=False),
    Column("valid_from", UtcDateTime(), nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("customer_id", String(36), nullable=False, index=True),
    Column("contract_id", String(36), nullable=False, unique=True),
    Column("offer_code", String(40), nullable=False),
    Column("technology", String(10), nullable=False),
    Column("billing", String(10), nullable=False),
    Column("line_number", String(20), nullable=True),
    # Prepaid: the end of what was paid for (None: never recharged). Postpaid: None.
    Column("ends_at", UtcDateTime(), nullable=True),
    Column("suspended", Boolean, nullable=False),
    # The Idoomly price owed, added to the next recharge.
    Column("idoomly_owed_centimes", BigId, nullable=False),
    Column("idoomly_period_end", UtcDateTime(), nullable=True),
    Column("idoomly_ends_at", UtcDateTime(), nullable=True),
    # The end date for which the expiring / expired notice went out (sent once per period).
    Column("expiring_notice_for", UtcDateTime(), nullable=True),
    Column("expired_notice_for", UtcDateTime(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_subscriptions_ends_at", "ends_at"),
)

invoices = Table(
    "invoices",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("number", String(24), nullable=False, unique=True),
    Column("customer_id", String(36), nullable=False),
    Column("subscription_id", String(36), nullable=False),
    Column("period", String(7), nullable=False),
    Column("offer_code", String(40), nullable=False),
    Column("price_version", Integer, nullable=False),
    Column("amount_centimes", BigId, nullable=False),
    Column("paid_centimes", BigId, nullable=False),
    Column("state", String(20), nullable=False),
    Column("issued_at", UtcDateTime(), nullable=False),
    Column("due_at", UtcDateTime(), nullable=False),
    Column("overdue_notified_at", UtcDateTime(), nullable=True),
    Column("bill_run_id", String(36), nullable=True),
    UniqueConstraint("subscription_id", "period", name="uq_invoices_line_period"),
    Index("ix_invoices_customer", "customer_id", "issued_at", "id"),
    Index("ix_invoices_due", "state", "due_at"),
)

bill_runs = Table(
    "bill_runs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("period", String(7), nullable=False, unique=True),
    Column("status", String(12), nullable=False),
    # Resumes after the last subscription id billed (keyset).
    Column("after_subscription_id", String(36), nullable=True),
    Column("issued", Integer, nullable=False),
    Column("started_by", String(100), nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime(), nullable=True),
)

payments = Table(
    "payments",
    metadata,
    Column("id", String(36), primary_key=True),
    # The order number the provider knows it by.
    Column("number", String(20), nullable=False, unique=True),
    Column("customer_id", String(36), nullable=False),
    Column("purpose", String(10), nullable=False),
    Column("invoice_id", String(36), nullable=True),
    Column("subscription_id", String(36), nullable=True),
    Column("offer_code", String(40), nullable=True),
    Column("price_version", Integer, nullable=True),
    # Of the amount, what settles an Idoomly grant.
    Column("idoomly_centimes", BigId, nullable=False),
    Column("amount_centimes", BigId, nullable=False),
    Column("refunded_centimes", BigId, nullable=False),
    Column("method", String(10), nullable=False),
    Column("state", String(10), nullable=False),
    Column("provider_order_id", String(64), nullable=True, unique=True),
    Column("redirect_url", Text, nullable=True),
    Column("masked_pan", String(24), nullable=True),
    Column("failure_reason", String(200), nullable=True),
    Column("language", String(2), nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    # After this, a pending payment is settled by asking the provider.
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("credited_at", UtcDateTime(), nullable=True),
    Index("ix_payments_customer", "customer_id", "created_at", "id"),
    Index(
        "ix_payments_open",
        "expires_at",
        postgresql_where=OPEN_PAYMENT,
    ),
    # Two tabs paying one bill (or recharging one line): one open payment at a time.
    Index(
        "uq_payments_open_invoice",
        "invoice_id",
        unique=True,
        postgresql_where=OPEN_PAYMENT,
    ),
    Index(
        "uq_payments_open_subscription",
        "subscription_id",
        unique=True,
        postgresql_where=OPEN_PAYMENT,
    ),
)

refunds = Table(
    "refunds",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("payment_id", String(36), nullable=False, index=True),
    Column("amount_centimes", BigId, nullable=False),
    Column("reason", String(500), nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

recharges = Table(
    "recharges",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("subscription_id", String(36), nullable=False, index=True),
    Column("customer_id", String(36), nullable=False),
    Column("source", String(10), nullable=False),
    # One credit per payment and per voucher: the database says no to a second.
    Column("payment_id", String(36), nullable=True, unique=True),
    Column("voucher_id", String(36), nullable=True, unique=True),
    Column("offer_code", String(40), nullable=False),
    Column("price_version", Integer, nullable=False),
    Column("amount_centimes", BigId, nullable=False),
    Column("starts_at", UtcDateTime(), nullable=False),
    Column("ends_at", UtcDateTime(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

voucher_batches = Table(
    "voucher_batches",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("number", Integer, nullable=False, unique=True),
    Column("offer_code", String(40), nullable=False),
    Column("price_version", Integer, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("state", String(10), nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

vouchers = Table(
    "vouchers",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("batch_id", String(36), nullable=False, index=True),
    Column("serial", String(16), nullable=False, unique=True),
    Column("code_hash", String(64), nullable=False, unique=True),
    Column("used_at", UtcDateTime(), nullable=True),
    Column("used_by_subscription", String(36), nullable=True),
)

recharge_failures = Table(
    "recharge_failures",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("customer_id", String(36), nullable=False),
    Column("subscription_id", String(36), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Index("ix_recharge_failures_customer", "customer_id", "at"),
    Index("ix_recharge_failures_subscription", "subscription_id", "at"),
)

reconciliation_issues = Table(
    "reconciliation_issues",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("provider", String(10), nullable=False),
    Column("provider_order_id", String(64), nullable=False),
    Column("payment_id", String(36), nullable=True),
    Column("kind", String(30), nullable=False),
    Column("detail", Text, nullable=False),
    Column("status", String(10), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("resolved_at", UtcDateTime(), nullable=True),
    UniqueConstraint("provider", "provider_order_id", "kind", name="uq_reconciliation_issue"),
)

# Identity's customers as billing needs them: which wilaya each is in, so an agent scoped to
# some wilayas reads and acts on the bills of theirs only (docs/security.md). Fed by
# identity.customer.registered / updated / erased; a customer not yet heard of is asked of
# identity and the answer kept (source_time NULL: the events that follow stay the authority).
customers = Table(
    "customers",
    metadata,
    Column("customer_id", String(36), primary_key=True),
    Column("wilaya_code", String(2), nullable=True),
    Column("erased", Boolean, nullable=False),
    Column("source_time", UtcDateTime(), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
)
