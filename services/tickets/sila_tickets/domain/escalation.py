"""Escalation: what the scheduler owes a ticket at a given instant (warning at 75 %, breach)."""

from __future__ import annotations

import enum
from datetime import datetime

WARNING_FRACTION = 0.75


class EscalationLevel(enum.StrEnum):
    WARNING = "warning"
    BREACHED = "breached"


def escalation_due(
    *,
    now: datetime,
    warn_at: datetime | None,
    due_at: datetime | None,
    warned: bool,
    breached: bool,
) -> EscalationLevel | None:
    """The one escalation to raise now, if any.

    Each level is raised once. After a downtime a ticket already past its due date is
    escalated as breached at once: a late 'warning' would tell the supervisor nothing new.
    A paused clock (no due date) is never escalated.
    """
    if due_at is not None and now > due_at and not breached:
        return EscalationLevel.BREACHED
    if warn_at is not None and now >= warn_at and not warned and not breached:
        return EscalationLevel.WARNING
    return None
