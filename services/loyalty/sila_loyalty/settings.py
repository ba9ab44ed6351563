"""Loyalty's settings (``SILA_LOYALTY_*``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from sila_common.settings import ServiceSettings


class LoyaltySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SILA_LOYALTY_", extra="ignore")

    service_name: str = "loyalty"
    port: int = 8004


def get_settings() -> LoyaltySettings:
    return LoyaltySettings()
