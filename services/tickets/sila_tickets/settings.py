"""Tickets' settings (``SILA_TICKETS_*``)."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from sila_common.settings import ServiceSettings


class TicketsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SILA_TICKETS_", extra="ignore")

    service_name: str = "tickets"
    port: int = 8002
    # This API as clients reach it (TMF621 ``href``s).
    public_base_url: str = "http://127.0.0.1:8000"
    # The page of the customer portal / My Idoom where the customer answers the satisfaction
    # survey: the link sent at resolution (``{ticket_id}`` is replaced). The page, not the
    # API: the portal logs the customer in and posts to ``/v1/tickets/{id}/survey``.
    portal_survey_url: str = "http://127.0.0.1:8000/espace-client/reclamations/{ticket_id}/avis"
    scheduler_interval_seconds: float = Field(default=30.0, gt=0)
    scheduler_batch_size: int = Field(default=200, ge=1, le=10_000)

    @field_validator("portal_survey_url")
    @classmethod
    def _names_the_ticket(cls, value: str) -> str:
        if "{ticket_id}" not in value or not value.startswith(("https://", "http://")):
            raise ValueError("an http(s) URL of the portal's page with {ticket_id} in it")
        return value


def get_settings() -> TicketsSettings:
    return TicketsSettings()
