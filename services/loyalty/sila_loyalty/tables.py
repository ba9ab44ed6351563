"""Loyalty's tables: accounts, the append-only ledger, the events the rules have seen,
campaigns, redemptions, boosts, referrals and draws."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    String,
    Table,
    text,
)

from sila_common.db import BigId, JsonDoc, UtcDateTime, new_metadata
from sila_common.outbox import messaging_tables

metadata = new_metadata()
messaging = messaging_tables(metadata)

accounts = Table(
    "accounts",
    metadata,
    Column("customer_id", String(36), primary_key=True),
    # Null until identity's registration arrives (a payment may be read first).
    Column("wilaya_code", String(2), nullable=True),
    Column("phone", String(20), nullable=True, index=True),
    Column("language", String(5), nullable=False, server_default="fr"),
    Column("registered_at", UtcDateTime(), nullable=True),
    Column("offers", JsonDoc, nullable=False, server_default=text("'[]'")),
    Column("tier", String(10), nullable=False, server_default="bronze"),
    # The event time the tier was last evaluated at (an older event never lowers it).
    Column("tier_evaluated_at", UtcDateTime(), nullable=True),
    Column("referral_code", String(12), nullable=False, unique=True),
    Column("points_expired_through", UtcDateTime(), nullable=True),
    # The last year whose tenure anniversary was celebrated (the daily job, Algiers time).
    Column("tenure_celebrated_year", Integer, nullable=True),
    Column("opened_at", UtcDateTime(), nullable=False),
    Column("erased_at", UtcDateTime(), nullable=True),
)

# Append-only: rows are inserted, never updated or deleted. A balance is a sum of rows.
ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("entry_id", String(36), nullable=False, unique=True),
    Column("customer_id", String(36), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("reason", String(20), nullable=False),
    # What makes the entry happen once: "campaign:<id>:<event or ticket>", "redemption:<id>"...
    Column("source_key", String(200), nullable=False, unique=True),
    Column("event_id", String(64), nullable=True),
    Column("campaign_id", String(36), nullable=True),
    Column("agent_id", String(64), nullable=True),
    Column("label", String(200), nullable=False),
    Column("details", JsonDoc, nullable=True),
    Column("expires_at", UtcDateTime(), nullable=True),
    Column("occurred_at", UtcDateTime(), nullable=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
    Index("ix_ledger_entries_customer", "customer_id", "id"),
    Index("ix_ledger_entries_campaign_customer", "campaign_id", "customer_id"),
)

# Every event the rules looked at, with the facts they saw: the dry run's material, and
# what makes a replay decide exactly as the first time.
recorded_events = Table(
    "recorded_events",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("customer_id", String(36), nullable=False),
    Column("event_type", String(200), nullable=False),
    Column("occurred_at", UtcDateTime(), nullable=False),
    Column("amount_centimes", BigInteger, nullable=True),
    # Null while the event waits for the customer's registration (read from another topic,
    # it may arrive first); the waiting event is kept in ``pending_event`` meanwhile.
    Column("facts", JsonDoc, nullable=True),
    Column("pending_event", JsonDoc, nullable=True),
    Index("ix_recorded_events_type_time", "event_type", "occurred_at"),
    Index("ix_recorded_events_customer_type", "customer_id", "event_type", "occurred_at"),
)

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("trigger", String(200), nullable=False),
    Column("starts_at", UtcDateTime(), nullable=False),
    Column("ends_at", UtcDateTime(), nullable=False),
    Column("season", JsonDoc, nullable=True),
    Column("conditions", JsonDoc, nullable=False),
    Column("reward", JsonDoc, nullable=False),
    Column("per_customer", Integer, nullable=True),
    Column("budget_centimes", BigInteger, nullable=True),
    Column("stock", Integer, nullable=True),
    Column("spent_centimes", BigInteger, nullable=False, server_default="0"),
    Column("stock_used", Integer, nullable=False, server_default="0"),
    Column("grants", Integer, nullable=False, server_default="0"),
    Column("status", String(10), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_campaigns_trigger", "trigger", "status", "starts_at"),
)

# A campaign's budget and stock are reserved in a short transaction of their own (never in
# the long one that grants, which holds accounts): one row per grant in flight, keyed like
# its ledger entry, deleted when the entry is written; a retry of a rolled-back grant finds
# it and uses it again, so nothing is reserved twice.
campaign_reservations = Table(
    "campaign_reservations",
    metadata,
    Column("source_key", String(200), primary_key=True),
    Column("campaign_id", String(36), nullable=False),
    Column("cost_centimes", BigInteger, nullable=False),
    Column("reserved_at", UtcDateTime(), nullable=False),
)

redemptions = Table(
    "redemptions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("customer_id", String(36), nullable=False),
    Column("option_code", String(30), nullable=False),
    Column("points", Integer, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("coupon_code", String(20), nullable=True, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_redemptions_customer", "customer_id", "created_at", "id"),
)

boosts = Table(
    "boosts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("customer_id", String(36), nullable=False),
    Column("entry_id", String(36), nullable=False, unique=True),
    Column("speed_mbps", Integer, nullable=False),
    Column("starts_at", UtcDateTime(), nullable=False),
    Column("ends_at", UtcDateTime(), nullable=False),
    Column("ended_at", UtcDateTime(), nullable=True),
    Index(
        "ix_boosts_running",
        "ends_at",
        postgresql_where=text("ended_at IS NULL"),
    ),
)

referrals = Table(
    "referrals",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("referrer_id", String(36), nullable=False, index=True),
    # Known once the referee is a customer (at once by code, at registration by phone).
    Column("referee_id", String(36), nullable=True, unique=True),
    Column("referee_phone", String(20), nullable=True, unique=True),
    Column("via", String(10), nullable=False),
    Column("status", String(12), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("converted_at", UtcDateTime(), nullable=True),
)

draws = Table(
    "draws",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("campaign_id", String(36), nullable=False, index=True),
    Column("seed", String(128), nullable=False),
    Column("entrants", JsonDoc, nullable=False),
    Column("winners_count", Integer, nullable=False),
    Column("winners", JsonDoc, nullable=False),
    Column("prize", JsonDoc, nullable=False),
    Column("drawn_by", String(64), nullable=False),
    Column("drawn_at", UtcDateTime(), nullable=False),
)
