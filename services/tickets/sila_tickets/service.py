"""Tickets, as the platform runs it: complaints and requests with their commitments."""

from __future__ import annotations

from pathlib import Path

from sila_common.service import Runtime, ServiceDefinition
from sila_tickets import handlers, reform
from sila_tickets.api import admin, agencies, incidents, reports, surveys, tickets, tmf621
from sila_tickets.scheduler import run_scheduler
from sila_tickets.settings import get_settings
from sila_tickets.tables import messaging, metadata


async def apply_reform_command(runtime: Runtime) -> None:
    """``python -m sila_tickets apply-reform``: idempotent; prints what it did."""
    for line in (await reform.apply_reform(runtime)).lines():
        print(line)


definition = ServiceDefinition(
    name="tickets",
    title="Sila tickets",
    description="Complaints and requests, their commitments on the Algerian working calendar.",
    settings_factory=get_settings,
    metadata=metadata,
    tables=messaging,
    migrations_dir=Path(__file__).parent / "migrations",
    # Fixed paths (/v1/tickets/queues...) before the /v1/tickets/{id} routes.
    routers=[
        admin.router,
        agencies.router,
        surveys.router,
        tickets.router,
        incidents.router,
        reports.router,
        tmf621.router,
    ],
    consumers=[handlers.CUSTOMER_DIRECTORY],
    # Escalation at 75 % and at breach, auto-close: runs next to the relay.
    background_jobs=[run_scheduler],
    commands={"apply-reform": apply_reform_command},
)
