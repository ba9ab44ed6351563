"""The events tickets publishes on ``sila.tickets``."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from sila_common.events import declare_event


class TicketOpened(BaseModel):
    ticket_id: str
    number: str
    customer_id: str
    category: str
    subcategory: str | None
    priority: str
    channel: str
    subject: str
    queue: str
    status: str
    due_at: datetime | None
    first_response_due_at: datetime | None


TICKET_OPENED = declare_event(
    "tickets.ticket.opened",
    TicketOpened,
    "A complaint or request was opened; carries its number and the committed due date.",
)
