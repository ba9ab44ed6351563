"""Notify's settings (``SILA_NOTIFY_*``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from sila_common.settings import ServiceSettings


class NotifySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SILA_NOTIFY_", extra="ignore")

    service_name: str = "notify"
    port: int = 8005


def get_settings() -> NotifySettings:
    return NotifySettings()
