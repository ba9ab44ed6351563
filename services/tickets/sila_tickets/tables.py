"""Tickets' tables: tickets, their numbering, and the directory of known customers."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, String, Table, Text

from sila_common.db import new_metadata
from sila_common.outbox import messaging_tables

metadata = new_metadata()
messaging = messaging_tables(metadata)

tickets = Table(
    "tickets",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("number", String(20), nullable=False, unique=True),
    Column("customer_id", String(36), nullable=False),
    Column("contract_id", String(36), nullable=True),
    Column("category", String(20), nullable=False),
    Column("subcategory", String(50), nullable=True),
    Column("priority", String(10), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("description", Text, nullable=True),
    Column("status", String(20), nullable=False),
    Column("queue", String(20), nullable=False),
    Column("wilaya_code", String(2), nullable=True),
    Column("assignee_id", String(36), nullable=True),
    Column("opened_by", String(100), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("first_response_due_at", DateTime(timezone=True), nullable=True),
    Column("due_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_tickets_customer_opened", "customer_id", "opened_at"),
    Index("ix_tickets_queue_status", "queue", "status"),
)

ticket_counters = Table(
    "ticket_counters",
    metadata,
    Column("year", Integer, primary_key=True),
    Column("last_value", Integer, nullable=False),
)

# Filled from identity's events: tickets can check a customer exists, and where.
known_customers = Table(
    "known_customers",
    metadata,
    Column("customer_id", String(36), primary_key=True),
    Column("wilaya_code", String(2), nullable=False),
    Column("language", String(5), nullable=False),
    Column("status", String(20), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
