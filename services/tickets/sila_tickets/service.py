"""Tickets, as the platform runs it: complaints and requests with their commitments."""

from __future__ import annotations

from pathlib import Path

from sila_common.service import ServiceDefinition
from sila_tickets import handlers
from sila_tickets.api import tickets
from sila_tickets.settings import get_settings
from sila_tickets.tables import messaging, metadata

definition = ServiceDefinition(
    name="tickets",
    title="Sila tickets",
    description="Complaints and requests, their commitments on the Algerian working calendar.",
    settings_factory=get_settings,
    metadata=metadata,
    tables=messaging,
    migrations_dir=Path(__file__).parent / "migrations",
    routers=[tickets.router],
    consumers=[handlers.CUSTOMER_DIRECTORY],
)
