"""Identity's tables: reference data, customers, contracts, interactions, consent, accounts
(agents, partners, refresh tokens, one-time codes), signing keys, the audit log and the
timeline read model.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import ARRAY

from sila_common.db import BigId, JsonDoc, UtcDateTime, new_metadata
from sila_common.outbox import messaging_tables

NameKeys = ARRAY(Text)

metadata = new_metadata()
messaging = messaging_tables(metadata)

# Reference data, loaded by migration (0002: 58 wilayas; 0006: the 69 of the November 2025
# reform, their 591 daïras and 1,541 communes), maintained by admins through the API.
wilayas = Table(
    "wilayas",
    metadata,
    Column("code", String(2), primary_key=True),
    Column("name_fr", String(100), nullable=False),
    Column("name_ar", String(100), nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("name_en", String(100), nullable=True),
    # A wilaya carved out of another by a reform: which one, and from when.
    Column("parent_code", String(2), nullable=True),
    Column("established_on", Date, nullable=True),
)

dairas = Table(
    "dairas",
    metadata,
    Column("code", String(4), primary_key=True),
    Column("wilaya_code", String(2), ForeignKey("wilayas.code"), nullable=False),
    Column("name_fr", String(100), nullable=False),
    Column("name_ar", String(100), nullable=False),
    Column("name_en", String(100), nullable=False),
    Index("ix_dairas_wilaya_code", "wilaya_code"),
)

communes = Table(
    "communes",
    metadata,
    Column("code", String(4), primary_key=True),
    Column("daira_code", String(4), ForeignKey("dairas.code"), nullable=False),
    Column("wilaya_code", String(2), ForeignKey("wilayas.code"), nullable=False),
    Column("name_fr", String(100), nullable=False),
    Column("name_ar", String(100), nullable=False),
    Column("name_en", String(100), nullable=False),
    # Identifies nothing: communes of the new wilayas keep their former wilaya's codes.
    Column("postal_code", String(5), nullable=True),
    Column("former_wilaya_code", String(2), nullable=True),
    Column("active", Boolean, nullable=False, default=True),
    Index("ix_communes_wilaya_code", "wilaya_code"),
)

# The reform added these wilayas to these agents' scope (an admin may take them back; a
# re-run of the reform never grants twice).
reform_scope_grants = Table(
    "reform_scope_grants",
    metadata,
    Column("agent_id", String(36), primary_key=True),
    Column("wilaya_code", String(2), primary_key=True),
    Column("parent_code", String(2), nullable=False),
    Column("granted_at", UtcDateTime(), nullable=False),
)

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
    Column("tax_id", String(20), nullable=True),
    Column("national_id", String(18), nullable=True, unique=True),
    # Nullable only so that erasure can remove it; the API requires it.
    Column("phone", String(20), nullable=True, unique=True),
    Column("email", String(254), nullable=True),
    Column("wilaya_code", String(2), ForeignKey("wilayas.code"), nullable=False),
    # Free text as typed before the reference existed, kept for what it says; the commune
    # is commune_code (a reference checked against the wilaya), the street is address.
    Column("commune", String(100), nullable=True),
    Column("address", Text, nullable=True),
    Column("commune_code", String(4), nullable=True),
    Column("language", String(5), nullable=False),
    # Normalised names and phonetic keys in both scripts (domain.names.search_terms);
    # trigram-indexed on PostgreSQL.
    Column("search_text", Text, nullable=True),
    # The same words and keys as exact keys, whole country and prefixed by the wilaya
    # ("=mohamed", "#mhmd", "16=mohamed", "16#mhmd"; domain.search.customer_name_keys):
    # what name search filters on, GIN-indexed.
    Column("name_keys", NameKeys, nullable=True),
    Column("version", Integer, nullable=False, default=1),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("erased_at", UtcDateTime(), nullable=True),
    Index(
        "ix_customers_search_text_trgm",
        "search_text",
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
    ),
    Index("ix_customers_name_keys", "name_keys", postgresql_using="gin"),
    Index("ix_customers_wilaya_code", "wilaya_code"),
    # (commune, wilaya): the reform job's probe for rows left in a moved commune's former
    # wilaya (flows/reform.py); also every query by commune.
    Index("ix_customers_commune_wilaya", "commune_code", "wilaya_code"),
)

contracts = Table(
    "contracts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("customer_id", String(36), ForeignKey("customers.id"), nullable=False, index=True),
    Column("number", String(40), nullable=False, unique=True),
    Column("offer_code", String(50), nullable=False),
    Column("line_number", String(20), nullable=True, index=True),
    Column("access_number", String(50), nullable=True),
    Column("installation_address", Text, nullable=True),
    Column("installation_wilaya_code", String(2), nullable=True),
    Column("installation_commune", String(100), nullable=True),
    Column("status", String(20), nullable=False),
    Column("starts_on", UtcDateTime(), nullable=True),
    Column("ends_on", UtcDateTime(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("installation_commune_code", String(4), nullable=True),
    Index(
        "ix_contracts_installation_commune_wilaya",
        "installation_commune_code",
        "installation_wilaya_code",
    ),
)

# The sequence inside each contract number, one counter per wilaya and year.
contract_counters = Table(
    "contract_counters",
    metadata,
    Column("wilaya_code", String(2), primary_key=True),
    Column("year", SmallInteger, primary_key=True),
    Column("last_value", Integer, nullable=False),
)

interactions = Table(
    "interactions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("customer_id", String(36), ForeignKey("customers.id"), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("direction", String(10), nullable=False),
    Column("reason", String(40), nullable=False),
    Column("outcome", String(40), nullable=False),
    Column("duration_seconds", Integer, nullable=True),
    Column("social_network", String(20), nullable=True),
    Column("ticket_id", String(36), nullable=True),
    Column("notes", Text, nullable=True),
    Column("agent_id", String(36), nullable=False),
    Column("occurred_at", UtcDateTime(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_interactions_customer_order", "customer_id", "occurred_at", "id"),
)

# Append-only: the current consent for a purpose and channel is the newest record.
consents = Table(
    "consents",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("customer_id", String(36), ForeignKey("customers.id"), nullable=False),
    Column("purpose", String(20), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("granted", Boolean, nullable=False),
    Column("captured_via", String(20), nullable=False),
    Column("captured_by", String(100), nullable=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
    Index("ix_consents_customer", "customer_id", "purpose", "channel", "id"),
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
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=True),
)

partners = Table(
    "partners",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("client_id", String(64), nullable=False, unique=True),
    Column("secret_hash", String(200), nullable=False),
    Column("scopes", JsonDoc, nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# Opaque refresh tokens, stored as SHA-256 digests; one family per log-in, rotated on use.
refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("family_id", String(36), nullable=False, index=True),
    Column("principal_kind", String(20), nullable=False),
    Column("subject", String(36), nullable=False, index=True),
    Column("scope", String(500), nullable=False, default=""),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("used_at", UtcDateTime(), nullable=True),
    Column("revoked_at", UtcDateTime(), nullable=True),
)

# One-time log-in codes for customers, HMAC-hashed; 5 minutes, 5 attempts.
otp_challenges = Table(
    "otp_challenges",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("phone", String(20), nullable=False),
    Column("customer_id", String(36), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("consumed_at", UtcDateTime(), nullable=True),
    Index("ix_otp_challenges_phone", "phone", "created_at"),
)

# Fixed-window counters shared by every instance of identity (rate limits).
rate_limit_counters = Table(
    "rate_limit_counters",
    metadata,
    Column("bucket", String(120), primary_key=True),
    Column("window_start", UtcDateTime(), primary_key=True),
    Column("hits", Integer, nullable=False),
)

# Who read or changed which customer (law 18-07): never the values, only the act.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("actor_kind", String(20), nullable=False),
    Column("actor_id", String(100), nullable=False),
    Column("action", String(50), nullable=False),
    Column("customer_id", String(36), nullable=True),
    Column("target", String(100), nullable=True),
    Column("detail", JsonDoc, nullable=False),
    Column("correlation_id", String(128), nullable=True),
    Index("ix_audit_log_customer", "customer_id", "id"),
    Index("ix_audit_log_actor", "actor_id", "id"),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("private_pem", Text, nullable=False),
    Column("public_jwk", JsonDoc, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    # Signing uses the newest active key; retired keys stay published until tokens expire.
    Column("retired_at", UtcDateTime(), nullable=True),
)

timeline_entries = Table(
    "timeline_entries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("customer_id", String(64), nullable=False),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("occurred_at", UtcDateTime(), nullable=False),
    Column("event_type", String(200), nullable=False),
    Column("source_service", String(20), nullable=False),
    Column("channel", String(30), nullable=True),
    Column("subject", String(200), nullable=False),
    Column("resource", String(300), nullable=True),
    Column("data", JsonDoc, nullable=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
    # Newest first per customer, tie-broken by event id: the keyset the pages walk.
    Index("ix_timeline_customer_order", "customer_id", "occurred_at", "event_id"),
)
