"""Tickets, as the platform runs it: complaints and requests with their commitments."""

from __future__ import annotations

from pathlib import Path

from sila_common.service import ServiceDefinition
from sila_tickets import handlers
from sila_tickets.api import admin, agencies, incidents, reports, surveys, tickets, tmf621
from sila_tickets.flows.reform import apply_reform
from sila_tickets.runtime import TicketsRuntime
from sila_tickets.scheduler import run_scheduler
from sila_tickets.settings import TicketsSettings, get_settings
from sila_tickets.tables import messaging, metadata


async def apply_reform_command(runtime: TicketsRuntime) -> None:
    """``python -m sila_tickets apply-reform``: idempotent; prints what it did."""
    for line in (await apply_reform(runtime)).lines():
        print(line)


definition = ServiceDefinition[TicketsSettings](
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
