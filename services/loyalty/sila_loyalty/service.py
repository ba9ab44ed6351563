"""Loyalty, as the platform runs it: bonuses, gifts, referral, tiers and campaigns."""

from __future__ import annotations

from pathlib import Path

from sila_common.service import ServiceDefinition
from sila_loyalty import handlers
from sila_loyalty.api import accounts, campaigns, redemptions, referrals
from sila_loyalty.flows.jobs import run_jobs
from sila_loyalty.settings import LoyaltySettings, get_settings
from sila_loyalty.tables import messaging, metadata

definition = ServiceDefinition[LoyaltySettings](
    name="loyalty",
    title="Sila loyalty",
    description="Bonuses, gifts, referral, tiers and campaigns, driven by events.",
    settings_factory=get_settings,
    metadata=metadata,
    tables=messaging,
    migrations_dir=Path(__file__).parent / "migrations",
    routers=[accounts.router, campaigns.router, redemptions.router, referrals.router],
    consumers=[handlers.ENGINE],
    # Ends speed boosts on time and expires points: runs next to the relay.
    background_jobs=[run_jobs],
)
