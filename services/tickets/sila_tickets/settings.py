"""Tickets' settings (``SILA_TICKETS_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from sila_common.settings import ServiceSettings


class TicketsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SILA_TICKETS_", extra="ignore")

    service_name: str = "tickets"
    port: int = 8002
    # Where the customer answers the satisfaction survey (the link sent at resolution).
    public_base_url: str = "http://127.0.0.1:8000"
    scheduler_interval_seconds: float = Field(default=30.0, gt=0)
    scheduler_batch_size: int = Field(default=200, ge=1, le=10_000)


def get_settings() -> TicketsSettings:
    return TicketsSettings()
