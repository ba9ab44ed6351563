"""Billing, as the platform runs it: Offers, subscriptions, bills, recharges and e-payment."""

from __future__ import annotations

from pathlib import Path

from sila_billing.settings import get_settings
from sila_billing.tables import messaging, metadata
from sila_common.service import ServiceDefinition

definition = ServiceDefinition(
    name="billing",
    title="Sila billing",
    description="Offers, subscriptions, bills, recharges and e-payment.",
    settings_factory=get_settings,
    metadata=metadata,
    tables=messaging,
    migrations_dir=Path(__file__).parent / "migrations",
)
