"""Routing: which queue a ticket goes to, and which of the queue's agents takes it."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sila_tickets.domain.sla import TicketCategory

# The competent department per category (the field study: technical, billing, commercial).
QUEUE_BY_CATEGORY: dict[TicketCategory, str] = {
    TicketCategory.TECHNICAL: "technical",
    TicketCategory.ADMINISTRATIVE: "billing",
    TicketCategory.COMMERCIAL: "commercial",
}
QUEUES = tuple(QUEUE_BY_CATEGORY.values())
ALL_WILAYAS = "*"


class AssignmentStrategy(enum.StrEnum):
    MANUAL = "manual"
    ROUND_ROBIN = "round_robin"
    LEAST_LOADED = "least_loaded"


def queue_for(category: TicketCategory) -> str:
    return QUEUE_BY_CATEGORY[category]


@dataclass(frozen=True)
class Candidate:
    """An agent of the queue serving the ticket's wilaya, with what the choice needs."""

    agent_id: str
    open_tickets: int
    last_assigned_at: datetime | None


def serves(member_wilaya: str, ticket_wilaya: str | None) -> bool:
    return member_wilaya in (ALL_WILAYAS, ticket_wilaya)


def choose_agent(candidates: Sequence[Candidate], strategy: AssignmentStrategy) -> Candidate | None:
    """The agent who takes the next ticket, or None (manual queue, nobody available).

    Round-robin: whoever was given a ticket longest ago (never first). Least-loaded: the
    fewest open tickets, ties broken the round-robin way. Agent id breaks remaining ties so
    the choice is deterministic.
    """
    if strategy is AssignmentStrategy.MANUAL or not candidates:
        return None

    if strategy is AssignmentStrategy.ROUND_ROBIN:
        return min(candidates, key=_longest_waiting)
    return min(candidates, key=lambda c: (c.open_tickets, *_longest_waiting(c)))


def _longest_waiting(candidate: Candidate) -> tuple[bool, float, str]:
    """Never-assigned agents first, then by the oldest last assignment, then by id."""
    at = candidate.last_assigned_at
    return (at is not None, at.timestamp() if at is not None else 0.0, candidate.agent_id)
