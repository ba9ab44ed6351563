"""Tickets' tables: tickets and their history, reference data, routing, incidents, surveys."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    String,
    Table,
    Text,
    false,
    text,
)

from sila_common.db import BigId, JsonDoc, UtcDateTime, new_metadata
from sila_common.geography_overlay import geography_overlay_table
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
    Column("opened_at", UtcDateTime(), nullable=False),
    Column("first_response_due_at", UtcDateTime(), nullable=True),
    Column("due_at", UtcDateTime(), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
    # Where the line is, for routing and incident linking.
    Column("commune", String(100), nullable=True),
    Column("exchange", String(50), nullable=True),
    Column("olt", String(50), nullable=True),
    Column("service", String(30), nullable=True),
    Column("agency", String(50), nullable=True),
    Column("incident_id", String(36), nullable=True),
    # The commitment as it stood at opening, so a later policy change does not move it.
    Column("first_response_kind", String(20), nullable=True),
    Column("first_response_amount", Integer, nullable=True),
    Column("resolution_kind", String(20), nullable=True),
    Column("resolution_amount", Integer, nullable=True),
    # Escalation: the 75 % instant, and when each level was raised (raised once).
    Column("warn_at", UtcDateTime(), nullable=True),
    Column("warned_at", UtcDateTime(), nullable=True),
    Column("breached_at", UtcDateTime(), nullable=True),
    Column("escalation_level", String(10), nullable=True),
    Column("first_responded_at", UtcDateTime(), nullable=True),
    Column("assigned_at", UtcDateTime(), nullable=True),
    Column("resolved_at", UtcDateTime(), nullable=True),
    Column("closed_at", UtcDateTime(), nullable=True),
    Column("reopen_count", Integer, nullable=False, server_default=text("0")),
    Column("first_contact_resolution", Boolean, nullable=True),
    Column("script_answers", JsonDoc, nullable=True),
    # The partner's own reference (TMF621 externalId).
    Column("external_id", String(100), nullable=True),
    Index("ix_tickets_customer_opened", "customer_id", "opened_at"),
    Index("ix_tickets_queue_status", "queue", "status"),
    Index("ix_tickets_opened_id", "opened_at", "id"),
    Index("ix_tickets_wilaya_status", "wilaya_code", "status"),
    Index("ix_tickets_assignee_status", "assignee_id", "status"),
    Index("ix_tickets_incident", "incident_id"),
    Index("ix_tickets_resolved_at", "resolved_at"),
    Index("ix_tickets_external_id", "external_id"),
    Index(
        "ix_tickets_warn_pending",
        "warn_at",
        postgresql_where=text("warned_at IS NULL AND breached_at IS NULL"),
    ),
    Index(
        "ix_tickets_breach_pending",
        "due_at",
        postgresql_where=text("breached_at IS NULL"),
    ),
)

# Each status change: who, when, why. The SLA pauses are derived from it.
ticket_transitions = Table(
    "ticket_transitions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("ticket_id", String(36), nullable=False),
    Column("from_status", String(20), nullable=True),
    Column("to_status", String(20), nullable=False),
    Column("reason", Text, nullable=True),
    Column("actor", String(100), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Index("ix_ticket_transitions_ticket", "ticket_id", "id"),
)

ticket_notes = Table(
    "ticket_notes",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("ticket_id", String(36), nullable=False),
    Column("author", String(100), nullable=False),
    Column("public", Boolean, nullable=False),
    Column("text", Text, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_ticket_notes_ticket", "ticket_id", "created_at"),
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
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("kind", String(20), nullable=True),
    Column("channel", String(20), nullable=True),
    Column("display_name", String(200), nullable=True),
    Column("phone", String(20), nullable=True),
    Column("email", String(254), nullable=True),
    Column("commune", String(100), nullable=True),
    Column("exchange", String(50), nullable=True),
    Column("olt", String(50), nullable=True),
    # The time of the event the row reflects: an older event never overwrites a newer one.
    Column("event_time", UtcDateTime(), nullable=True),
    Column("erased_at", UtcDateTime(), nullable=True),
    # The customer's commune in the geography reference (sila_common.geography).
    Column("commune_code", String(4), nullable=True),
    Index("ix_known_customers_area", "wilaya_code", "commune"),
    Index("ix_known_customers_exchange", "exchange"),
    Index("ix_known_customers_olt", "olt"),
)

# Reference data, loaded by migration and then maintained by administrators.
subcategories = Table(
    "subcategories",
    metadata,
    Column("code", String(50), primary_key=True),
    Column("category", String(20), nullable=False),
    Column("label_fr", String(200), nullable=False),
    Column("label_en", String(200), nullable=False),
    Column("label_ar", String(200), nullable=False),  # migration 0010
    Column("script", JsonDoc, nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("true")),
)

sla_policies = Table(
    "sla_policies",
    metadata,
    # "<category>/<subcategory or *>/<priority or *>": one row per policy key.
    Column("key", String(100), primary_key=True),
    Column("category", String(20), nullable=False),
    Column("subcategory", String(50), nullable=True),
    Column("priority", String(10), nullable=True),
    Column("first_response_kind", String(20), nullable=False),
    Column("first_response_amount", Integer, nullable=False),
    Column("resolution_kind", String(20), nullable=False),
    Column("resolution_amount", Integer, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# The holidays as the library gave them, per seeded year...
calendar_holidays = Table(
    "calendar_holidays",
    metadata,
    Column("day", Date, primary_key=True),
    Column("name", String(100), primary_key=True),
    Column("estimated", Boolean, nullable=False),
)
calendar_years = Table(
    "calendar_years",
    metadata,
    Column("year", Integer, primary_key=True),
    Column("seeded_at", UtcDateTime(), nullable=False),
)
# ...and the administrators' corrections on top, applied in order (kept forever).
holiday_overrides = Table(
    "holiday_overrides",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("day", Date, nullable=False),
    Column("action", String(10), nullable=False),
    Column("name", String(100), nullable=True),
    Column("reason", Text, nullable=True),
    Column("created_by", String(100), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

# Where each contract is installed (identity.contract.signed / updated): an incident over a
# commune or a daïra finds its customers here.
known_installations = Table(
    "known_installations",
    metadata,
    Column("contract_id", String(36), primary_key=True),
    Column("customer_id", String(36), nullable=False),
    Column("wilaya_code", String(2), nullable=True),
    Column("commune_code", String(4), nullable=True),
    Column("daira_code", String(4), nullable=True),
    Column("event_time", UtcDateTime(), nullable=False),
    Index("ix_known_installations_commune", "commune_code"),
    Index("ix_known_installations_daira", "daira_code"),
    Index("ix_known_installations_customer", "customer_id"),
)

# What the 2025 reform did once and must not redo after a supervisor changed it
# (("queue", "billing/64"): the queue's members for a new wilaya were copied from its parent).
reform_steps = Table(
    "reform_steps",
    metadata,
    Column("step", String(20), primary_key=True),
    Column("key", String(100), primary_key=True),
    Column("done_at", UtcDateTime(), nullable=False),
)

# Commercial agencies (ACTEL): a ticket handled by one runs its working clock on its hours.
agencies = Table(
    "agencies",
    metadata,
    Column("code", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("wilaya_code", String(2), nullable=False),
    Column("commune", String(100), nullable=True),
    # {"sunday": {"opens": "08:00", "closes": "16:30"}, ...}: open weekdays, local times.
    Column("hours", JsonDoc, nullable=False),
    # [{"label", "first_day", "last_day", "hours"}]: other hours on date ranges (Ramadan).
    Column("hour_overrides", JsonDoc, nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("updated_by", String(100), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    # The agency's commune in the geography reference (matched from `commune` when typed).
    Column("commune_code", String(4), nullable=True),
    Index("ix_agencies_wilaya", "wilaya_code"),
)

queues = Table(
    "queues",
    metadata,
    Column("code", String(20), primary_key=True),
    Column("label", String(100), nullable=False),
    Column("strategy", String(20), nullable=False),
)
# The agents of a queue, per wilaya ("*" for every wilaya), managed by supervisors.
queue_agents = Table(
    "queue_agents",
    metadata,
    Column("queue", String(20), primary_key=True),
    Column("wilaya_code", String(3), primary_key=True),
    Column("agent_id", String(36), primary_key=True),
    Column("last_assigned_at", UtcDateTime(), nullable=True),
    Column("added_by", String(100), nullable=False),
    Column("added_at", UtcDateTime(), nullable=False),
)

incidents = Table(
    "incidents",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("service", String(30), nullable=False),
    Column("area_kind", String(10), nullable=False),
    Column("area_value", String(100), nullable=False),
    Column("wilaya_code", String(2), nullable=True),
    Column("area_label", String(200), nullable=False),
    Column("description", Text, nullable=True),
    Column("status", String(10), nullable=False),
    Column("estimated_end_at", UtcDateTime(), nullable=False),
    Column("declared_by", String(100), nullable=False),
    Column("declared_at", UtcDateTime(), nullable=False),
    Column("resolved_by", String(100), nullable=True),
    Column("resolved_at", UtcDateTime(), nullable=True),
    Column("affected_count", Integer, nullable=False, server_default=text("0")),
    # The active incidents by area: linking a new ticket is one indexed lookup.
    Index(
        "ix_incidents_active_area",
        "area_kind",
        "area_value",
        postgresql_where=text("status = 'active'"),
    ),
)
incident_customers = Table(
    "incident_customers",
    metadata,
    Column("incident_id", String(36), primary_key=True),
    Column("customer_id", String(36), primary_key=True),
    Column("notified_at", UtcDateTime(), nullable=False),
)

surveys = Table(
    "surveys",
    metadata,
    Column("ticket_id", String(36), primary_key=True),
    Column("customer_id", String(36), nullable=False),
    Column("csat", Integer, nullable=True),
    Column("nps", Integer, nullable=True),
    Column("recommend", String(5), nullable=True),
    Column("comment", Text, nullable=True),
    Column("answered_at", UtcDateTime(), nullable=False),
    # "customer:<id>", or "agent:<id>" when an agent recorded the customer's answer on a call
    # (then recorded_on_call; the customer's own answer later replaces it).
    Column("answered_by", String(150), nullable=True),
    Column("recorded_on_call", Boolean, nullable=False, server_default=false()),
    Index("ix_surveys_answered_at", "answered_at"),
)

questionnaires = Table(
    "questionnaires",
    metadata,
    Column("code", String(50), primary_key=True),
    Column("title", String(300), nullable=False),
    Column("language", String(5), nullable=False),
    Column("document", JsonDoc, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)
questionnaire_responses = Table(
    "questionnaire_responses",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("questionnaire_code", String(50), nullable=False),
    Column("ticket_id", String(36), nullable=True),
    Column("customer_id", String(36), nullable=True),
    Column("answers", JsonDoc, nullable=False),
    Column("submitted_at", UtcDateTime(), nullable=False),
    # The agent who recorded a respondent's answers (an interview); None when self-answered.
    Column("recorded_by", String(150), nullable=True),
    Index("ix_questionnaire_responses_code_at", "questionnaire_code", "submitted_at"),
)

# TMF621 hub: partners' event subscriptions (delivery is notify's, through its webhooks).
tmf_hub_subscriptions = Table(
    "tmf_hub_subscriptions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("partner", String(100), nullable=False),
    Column("callback", String(2000), nullable=False),
    Column("query", String(1000), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_tmf_hub_subscriptions_partner", "partner"),
)

# Admins' edits of the map (identity.geography.changed), laid over the shipped reference.
geography_overlay = geography_overlay_table(metadata)
