"""Tickets' settings (``SILA_TICKETS_*``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from sila_common.settings import ServiceSettings


class TicketsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SILA_TICKETS_", extra="ignore")

    service_name: str = "tickets"
    port: int = 8002


def get_settings() -> TicketsSettings:
    return TicketsSettings()
