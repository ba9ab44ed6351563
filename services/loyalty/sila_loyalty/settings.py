"""Loyalty's settings (``SILA_LOYALTY_*``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from sila_common.settings import ServiceSettings


class LoyaltySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SILA_LOYALTY_", extra="ignore")

    service_name: str = "loyalty"
    port: int = 8004
    # How often the background job ends boosts and expires points.
    jobs_interval_seconds: float = 30.0
    jobs_batch_size: int = 200
    # What a converted referral gives each side, in points.
    referral_referrer_points: int = 500
    referral_referee_points: int = 300


def get_settings() -> LoyaltySettings:
    return LoyaltySettings()
