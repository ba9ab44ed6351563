"""Billing's settings (``SILA_BILLING_*``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from sila_common.settings import ServiceSettings


class BillingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SILA_BILLING_", extra="ignore")

    service_name: str = "billing"
    port: int = 8003


def get_settings() -> BillingSettings:
    return BillingSettings()
