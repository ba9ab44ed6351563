"""Notify's tables: who can be reached and how, what to say, what was sent, partners' webhooks."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from sila_common.db import BigId, JsonDoc, UtcDateTime, new_metadata
from sila_common.geography_overlay import geography_overlay_table
from sila_common.outbox import messaging_tables

metadata = new_metadata()
messaging = messaging_tables(metadata)

# -- events that named a customer before identity's event about them arrived -------------------
# Topics are not ordered against each other: a ticket can be heard of before its customer.
# Such an event waits here and is planned as soon as the customer is known.
parked_events = Table(
    "parked_events",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("customer_id", String(64), nullable=False, index=True),
    Column("envelope", JsonDoc, nullable=False),
    Column("parked_at", UtcDateTime(), nullable=False),
)

# -- the directory: identity's customers as notify needs them ---------------------------------
recipients = Table(
    "recipients",
    metadata,
    Column("customer_id", String(36), primary_key=True),
    Column("phone", String(20), nullable=True),
    Column("email", String(254), nullable=True),
    Column("language", String(5), nullable=False),
    Column("wilaya_code", String(3), nullable=True),
    Column("display_name", String(200), nullable=True),
    Column("status", String(20), nullable=False),
    # The channels the customer prefers, best first (sms, email, push, in_app).
    Column("channel_order", JsonDoc, nullable=False),
    Column("erased", Boolean, nullable=False, default=False),
    # The source event's time: an older event never overwrites a newer state.
    Column("source_time", UtcDateTime(), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
)

consents = Table(
    "consents",
    metadata,
    Column("customer_id", String(36), primary_key=True),
    Column("purpose", String(20), primary_key=True),  # service | marketing
    Column("channel", String(10), primary_key=True),  # sms | email | push | in_app | any
    Column("granted", Boolean, nullable=False),
    Column("captured_via", String(50), nullable=True),
    Column("source_time", UtcDateTime(), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
)

push_tokens = Table(
    "push_tokens",
    metadata,
    Column("token", String(400), primary_key=True),
    Column("customer_id", String(36), nullable=False, index=True),
    Column("platform", String(10), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

# -- what to say --------------------------------------------------------------------------------
templates = Table(
    "templates",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("event_type", String(200), nullable=False),
    # Picks one of an event's messages by a data field (a ticket's new status); "" if one.
    Column("variant", String(50), nullable=False),
    Column("language", String(5), nullable=False),
    Column("channel", String(10), nullable=False),
    Column("version", Integer, nullable=False),
    Column("subject", Text, nullable=True),
    Column("body", Text, nullable=False),
    Column("variables", JsonDoc, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint(
        "event_type",
        "variant",
        "language",
        "channel",
        "version",
        name="uq_templates_key_version",
    ),
)

# Which events speak: event type -> lane, purpose, channels, condition.
event_routes = Table(
    "event_routes",
    metadata,
    Column("event_type", String(200), primary_key=True),
    Column("lane", String(10), nullable=False),  # otp | service | marketing
    Column("urgent", Boolean, nullable=False),
    Column("channels", JsonDoc, nullable=False),
    # {"field": [allowed values]}: the event speaks only when its data matches.
    Column("condition", JsonDoc, nullable=False),
    Column("variant_field", String(50), nullable=True),
    Column("enabled", Boolean, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# -- what was sent -------------------------------------------------------------------------------
messages = Table(
    "messages",
    metadata,
    Column("id", String(36), primary_key=True),
    # The event that caused it; a message per (event, channel), never two.
    Column("event_id", String(200), nullable=False),
    Column("event_type", String(200), nullable=False),
    Column("channel", String(10), nullable=False),
    Column("customer_id", String(36), nullable=False),
    Column("lane", String(10), nullable=False),
    Column("lane_rank", SmallInteger, nullable=False),
    Column("urgent", Boolean, nullable=False),
    Column("language", String(5), nullable=False),
    Column("template", String(260), nullable=False),
    Column("variant", String(50), nullable=False),
    # The event's values the template used; kept to render another channel on failover.
    Column("render_data", JsonDoc, nullable=False),
    Column("template_version", Integer, nullable=True),
    Column("destination", String(400), nullable=False),
    Column("subject", Text, nullable=True),
    # One-time codes: the body shows the code masked; the real text is sealed (AES-GCM,
    # domain/sealing.py) until sent or failed, then dropped.
    Column("body", Text, nullable=False),
    Column("sealed_body", Text, nullable=True),
    # queued | sending | sent | delivered | failed
    Column("state", String(10), nullable=False),
    Column("scheduled_for", UtcDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    # Written before each provider call: a crash leaves the message "sending" with it.
    Column("attempt_id", String(36), nullable=True),
    Column("sending_since", UtcDateTime(), nullable=True),
    Column("provider_message_id", String(200), nullable=True),
    Column("provider_reason", Text, nullable=True),
    # Proves a delivery report is about this message (unguessable, in the dlr-url).
    Column("callback_token", String(64), nullable=True),
    # The channels still allowed if this one fails for good, best first.
    Column("failover", JsonDoc, nullable=False),
    Column("campaign_id", String(36), nullable=True, index=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("sent_at", UtcDateTime(), nullable=True),
    Column("delivered_at", UtcDateTime(), nullable=True),
    Column("failed_at", UtcDateTime(), nullable=True),
    UniqueConstraint("event_id", "channel", name="uq_messages_event_channel"),
    Index(
        "ix_messages_due",
        "lane",
        "scheduled_for",
        postgresql_where=text("state = 'queued'"),
    ),
    Index("ix_messages_customer", "customer_id", "created_at"),
    Index(
        "ix_messages_sending",
        "sending_since",
        postgresql_where=text("state = 'sending'"),
    ),
)

inbox_items = Table(
    "inbox_items",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("customer_id", String(36), nullable=False),
    Column("message_id", String(36), nullable=False, unique=True),
    Column("event_type", String(200), nullable=False),
    Column("title", Text, nullable=True),
    Column("body", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("read_at", UtcDateTime(), nullable=True),
    Index("ix_inbox_items_customer", "customer_id", "created_at"),
)

# -- campaigns ---------------------------------------------------------------------------------
campaign_sends = Table(
    "campaign_sends",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("event_type", String(200), nullable=False),
    Column("channel", String(10), nullable=False),
    Column("segment", JsonDoc, nullable=False),
    Column("variables", JsonDoc, nullable=False),
    # planning | planned | cancelled | failed (the planner could not plan it; see the logs)
    Column("state", String(10), nullable=False),
    Column("rate_per_second", Float, nullable=False),
    # The keyset position of the planner in the recipients table.
    Column("cursor", String(36), nullable=True),
    Column("targeted", Integer, nullable=False, default=0),
    Column("skipped", Integer, nullable=False, default=0),
    # When the next message of this campaign may be scheduled (the rate).
    Column("next_slot", UtcDateTime(), nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("planned_at", UtcDateTime(), nullable=True),
)

# -- partner webhooks ---------------------------------------------------------------------------
webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", String(36), primary_key=True),
    # webhook: a partner's CloudEvents subscription (this API); tmf621: a TMF621 hub listener
    # registered through tickets' /hub, which receives TMF events (webhooks/tmf_hub.py).
    Column("kind", String(10), nullable=False, server_default="webhook"),
    Column("owner", String(150), nullable=False, index=True),
    # TMF621 listeners only: whose tickets they hear (the partner's own, or all).
    Column("partner_id", String(150), nullable=True),
    Column("reach", String(4), nullable=True),
    Column("url", Text, nullable=False),
    Column("event_types", JsonDoc, nullable=False),
    # The partner's scopes when it last saved the subscription: they bound what it receives
    # (domain/webhook_policy.py). None (older rows): a partner's receives nothing.
    Column("owner_scopes", JsonDoc, nullable=True),
    Column("description", String(200), nullable=True),
    # None for a TMF621 hub listener, which is not signed (see "kind").
    Column("secret", String(100), nullable=True),
    Column("previous_secret", String(100), nullable=True),
    Column("previous_secret_expires_at", UtcDateTime(), nullable=True),
    # active | disabled
    Column("state", String(10), nullable=False),
    Column("disabled_reason", Text, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column(
        "subscription_id",
        String(36),
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("event_id", String(200), nullable=False),
    Column("event_type", String(200), nullable=False),
    Column("payload", JsonDoc, nullable=False),
    # pending | delivering | succeeded | failed
    Column("state", String(12), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("completed_at", UtcDateTime(), nullable=True),
    UniqueConstraint("subscription_id", "event_id", name="uq_webhook_deliveries_sub_event"),
    Index(
        "ix_webhook_deliveries_due",
        "next_attempt_at",
        postgresql_where=text("state = 'pending'"),
    ),
    Index("ix_webhook_deliveries_subscription", "subscription_id", "created_at"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column(
        "delivery_id",
        String(36),
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("attempted_at", UtcDateTime(), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("duration_ms", Integer, nullable=False),
)

# Admins' edits of the map (identity.geography.changed), laid over the shipped reference.
geography_overlay = geography_overlay_table(metadata)
