"""Tickets' read SQL: the filtered, newest-first list behind ``GET /v1/tickets``."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select

from sila_common.db import newest_first
from sila_tickets.domain.lifecycle import OPEN
from sila_tickets.tables import tickets


@dataclass(frozen=True, slots=True)
class TicketFilter:
    """What a list asks for (None: any), bounded by what its caller may see: the wilayas an
    agent serves (``within_wilayas``, None: every wilaya) or the tickets a partner opened."""

    customer_id: str | None = None
    status: str | None = None
    queue: str | None = None
    wilaya: str | None = None
    assignee: str | None = None
    incident_id: str | None = None
    overdue: bool | None = None
    within_wilayas: Collection[str] | None = None
    opened_by: str | None = None


def ticket_list(
    wanted: TicketFilter, *, now: datetime, after: tuple[datetime, str] | None, limit: int
) -> Select[Any]:
    """The tickets ``wanted`` names, newest first, after the cursor ``after``, one row more
    than ``limit`` (so the caller knows whether another page follows)."""
    query = select(tickets).where(*_conditions(wanted, now))
    return newest_first(query, tickets.c.opened_at, tickets.c.id, after=after, limit=limit)


def _conditions(wanted: TicketFilter, now: datetime) -> list[ColumnElement[bool]]:
    c = tickets.c
    equal_to = [
        (c.opened_by, wanted.opened_by),
        (c.customer_id, wanted.customer_id),
        (c.status, wanted.status),
        (c.queue, wanted.queue),
        (c.wilaya_code, wanted.wilaya),
        (c.assignee_id, wanted.assignee),
        (c.incident_id, wanted.incident_id),
    ]
    conditions = [column == value for column, value in equal_to if value is not None]
    if wanted.within_wilayas is not None:
        conditions.append(c.wilaya_code.in_(sorted(wanted.within_wilayas)))
    if wanted.overdue is not None:
        conditions.append(_overdue(now) if wanted.overdue else _not_overdue(now))
    return conditions


def _open() -> ColumnElement[bool]:
    return tickets.c.status.in_([s.value for s in OPEN])


def _overdue(now: datetime) -> ColumnElement[bool]:
    return and_(_open(), tickets.c.due_at < now)


def _not_overdue(now: datetime) -> ColumnElement[bool]:
    # Spelled out rather than negated: a ticket with no due date is never overdue.
    return or_(~_open(), tickets.c.due_at.is_(None), tickets.c.due_at >= now)
