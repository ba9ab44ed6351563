"""Identity's tables: customers, contracts, agents, signing keys and the timeline read model."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
)

from sila_common.db import BigId, JsonDoc, new_metadata
from sila_common.outbox import messaging_tables

metadata = new_metadata()
messaging = messaging_tables(metadata)

customers = Table(
    "customers",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("first_name", String(100), nullable=True),
    Column("last_name", String(100), nullable=True),
    Column("first_name_ar", String(100), nullable=True),
    Column("last_name_ar", String(100), nullable=True),
    Column("company_name", String(200), nullable=True),
    Column("legal_form", String(50), nullable=True),
    Column("trade_register_number", String(50), nullable=True),
    Column("national_id", String(18), nullable=True, unique=True),
    Column("phone", String(20), nullable=False, unique=True),
    Column("email", String(254), nullable=True),
    Column("wilaya_code", String(2), nullable=False),
    Column("commune", String(100), nullable=True),
    Column("address", Text, nullable=True),
    Column("language", String(5), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

contracts = Table(
    "contracts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("customer_id", String(36), ForeignKey("customers.id"), nullable=False, index=True),
    Column("number", String(40), nullable=False, unique=True),
    Column("offer_code", String(50), nullable=False),
    Column("line_number", String(20), nullable=True, index=True),
    Column("installation_address", Text, nullable=True),
    Column("status", String(20), nullable=False),
    Column("starts_on", DateTime(timezone=True), nullable=True),
    Column("ends_on", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

agents = Table(
    "agents",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("username", String(100), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("roles", JsonDoc, nullable=False),
    Column("wilayas", JsonDoc, nullable=False),
    Column("agency", String(100), nullable=True),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("private_pem", Text, nullable=False),
    Column("public_jwk", JsonDoc, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Signing uses the newest active key; retired keys stay published until tokens expire.
    Column("retired_at", DateTime(timezone=True), nullable=True),
)

timeline_entries = Table(
    "timeline_entries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("customer_id", String(64), nullable=False),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("event_type", String(200), nullable=False),
    Column("source_service", String(20), nullable=False),
    Column("channel", String(30), nullable=True),
    Column("subject", String(200), nullable=False),
    Column("resource", String(300), nullable=True),
    Column("data", JsonDoc, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    # Newest first per customer, tie-broken by event id: the keyset the pages walk.
    Index("ix_timeline_customer_order", "customer_id", "occurred_at", "event_id"),
)
