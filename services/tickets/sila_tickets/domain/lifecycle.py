"""The ticket lifecycle: which status may follow which, for whom, and what the SLA clock does.

Pure rules: the service stores the history and turns each accepted transition into events.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sila_tickets.domain.calendar import require_aware

REOPEN_WINDOW = timedelta(days=7)


class Status(enum.StrEnum):
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    PENDING_CUSTOMER = "pending_customer"
    HELD = "held"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class Actor(enum.StrEnum):
    """Who asks for a transition: staff (agents, partners, the scheduler) or the customer."""

    STAFF = "staff"
    CUSTOMER = "customer"


INITIAL = Status.ACKNOWLEDGED
# Open: the commitment still runs (or is paused); the ticket is in someone's backlog.
OPEN = frozenset({Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.PENDING_CUSTOMER, Status.HELD})
# The SLA clock stops while the ticket waits on the customer, and between a resolution
# and a reopening (the ticket was not on Algérie Télécom's desk then).
PAUSING = frozenset({Status.PENDING_CUSTOMER, Status.RESOLVED})
# Leaving these needs a reason the customer (or the supervisor) can read.
REASON_REQUIRED = frozenset({Status.REJECTED, Status.CANCELLED, Status.HELD})

_STAFF_MOVES: dict[Status, tuple[Status, ...]] = {
    Status.ACKNOWLEDGED: (
        Status.IN_PROGRESS,
        Status.PENDING_CUSTOMER,
        Status.HELD,
        Status.RESOLVED,
        Status.REJECTED,
        Status.CANCELLED,
    ),
    Status.IN_PROGRESS: (
        Status.PENDING_CUSTOMER,
        Status.HELD,
        Status.RESOLVED,
        Status.REJECTED,
        Status.CANCELLED,
    ),
    Status.PENDING_CUSTOMER: (
        Status.IN_PROGRESS,
        Status.HELD,
        Status.RESOLVED,
        Status.CANCELLED,
    ),
    Status.HELD: (
        Status.IN_PROGRESS,
        Status.PENDING_CUSTOMER,
        Status.RESOLVED,
        Status.CANCELLED,
    ),
    Status.RESOLVED: (Status.CLOSED, Status.IN_PROGRESS),
    Status.CLOSED: (),
    Status.REJECTED: (),
    Status.CANCELLED: (),
}
# A customer answers what was asked, withdraws the request, confirms or reopens a resolution.
_CUSTOMER_MOVES: dict[Status, tuple[Status, ...]] = {
    Status.ACKNOWLEDGED: (Status.CANCELLED,),
    Status.IN_PROGRESS: (Status.CANCELLED,),
    Status.PENDING_CUSTOMER: (Status.IN_PROGRESS, Status.CANCELLED),
    Status.HELD: (Status.CANCELLED,),
    Status.RESOLVED: (Status.CLOSED, Status.IN_PROGRESS),
}


class TransitionError(ValueError):
    """A transition the rules refuse; `allowed` lists what this actor may do instead."""

    def __init__(self, message: str, allowed: Sequence[Status]) -> None:
        super().__init__(message)
        self.allowed = tuple(allowed)


class ReasonRequiredError(ValueError):
    """Rejecting, cancelling, holding or reopening needs a reason."""


def is_reopen(current: Status, target: Status) -> bool:
    return current is Status.RESOLVED and target is Status.IN_PROGRESS


def allowed_transitions(
    current: Status,
    *,
    actor: Actor,
    resolved_at: datetime | None,
    now: datetime,
) -> tuple[Status, ...]:
    """The statuses this actor may move the ticket to now."""
    moves = (_STAFF_MOVES if actor is Actor.STAFF else _CUSTOMER_MOVES).get(current, ())
    if current is Status.RESOLVED and not may_reopen(resolved_at, now):
        moves = tuple(status for status in moves if not is_reopen(current, status))
    return moves


def may_reopen(resolved_at: datetime | None, now: datetime) -> bool:
    """Reopening is allowed up to 7 days (inclusive) after the resolution."""
    require_aware(now, "now")
    if resolved_at is None:
        return False
    require_aware(resolved_at, "resolved_at")
    return now - resolved_at <= REOPEN_WINDOW


def check_transition(
    current: Status,
    target: Status,
    *,
    actor: Actor,
    resolved_at: datetime | None,
    now: datetime,
    reason: str | None,
) -> None:
    """Raise TransitionError (with the allowed targets) or ReasonRequiredError if refused."""
    allowed = allowed_transitions(current, actor=actor, resolved_at=resolved_at, now=now)
    if target not in allowed:
        if is_reopen(current, target) and target in _STAFF_MOVES[current]:
            message = "A ticket can only be reopened within 7 days of its resolution."
        else:
            message = f"A ticket cannot go from {current} to {target}."
        raise TransitionError(message, allowed)
    needs_reason = target in REASON_REQUIRED or is_reopen(current, target)
    if needs_reason and not (reason and reason.strip()):
        raise ReasonRequiredError(f"Moving a ticket from {current} to {target} needs a reason.")


@dataclass(frozen=True)
class StatusSpan:
    """One recorded transition: the ticket entered `status` at `at`."""

    status: Status
    at: datetime


def pauses_from_history(history: Iterable[StatusSpan]) -> list[tuple[datetime, datetime | None]]:
    """The SLA pauses: each stay in a pausing status, the last one open if still in it."""
    pauses: list[tuple[datetime, datetime | None]] = []
    started: datetime | None = None
    for entry in sorted(history, key=lambda span: span.at):
        pausing = entry.status in PAUSING
        if pausing and started is None:
            started = entry.at
        elif not pausing and started is not None:
            pauses.append((started, entry.at))
            started = None
    if started is not None:
        pauses.append((started, None))
    return pauses


def is_first_contact_resolution(history: Sequence[StatusSpan]) -> bool:
    """Resolved at the first contact: opened then resolved with nothing between, never reopened.

    The agent solved it while the customer was there (or in the first answer).
    """
    statuses = [span.status for span in sorted(history, key=lambda span: span.at)]
    return statuses[:2] == [INITIAL, Status.RESOLVED] and Status.IN_PROGRESS not in statuses[2:]


# What the customer hears: the contract's public statuses.
PUBLIC_STATUS: dict[Status, str] = {
    Status.ACKNOWLEDGED: "opened",
    Status.IN_PROGRESS: "in_progress",
    Status.PENDING_CUSTOMER: "pending_customer",
    Status.HELD: "in_progress",
    Status.RESOLVED: "resolved",
    Status.CLOSED: "closed",
    Status.REJECTED: "rejected",
    Status.CANCELLED: "cancelled",
}
