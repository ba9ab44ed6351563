"""Tickets's runtime and event-handler context, typed with tickets's own settings."""

from __future__ import annotations

from sila_common.consumer import HandlerContext
from sila_common.service import Runtime
from sila_tickets.settings import TicketsSettings

TicketsRuntime = Runtime[TicketsSettings]
TicketsContext = HandlerContext[TicketsSettings]
