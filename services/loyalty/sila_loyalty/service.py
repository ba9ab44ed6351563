"""Loyalty, as the platform runs it: Bonuses, gifts, referral, tiers and campaigns."""

from __future__ import annotations

from pathlib import Path

from sila_common.service import ServiceDefinition
from sila_loyalty.settings import get_settings
from sila_loyalty.tables import messaging, metadata

definition = ServiceDefinition(
    name="loyalty",
    title="Sila loyalty",
    description="Bonuses, gifts, referral, tiers and campaigns.",
    settings_factory=get_settings,
    metadata=metadata,
    tables=messaging,
    migrations_dir=Path(__file__).parent / "migrations",
)
