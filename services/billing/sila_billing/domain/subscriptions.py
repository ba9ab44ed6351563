"""Prepaid subscriptions: their state at a moment, and what a recharge does to the end date."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta


class State(enum.StrEnum):
    ACTIVE = "active"
    EXPIRING = "expiring"  # active, ending within the notice period
    EXPIRED = "expired"
    SUSPENDED = "suspended"  # by an agent (fraud, unpaid bill, customer's request)
    # A postpaid line is billed; it has no end date.
    BILLED = "billed"


DEFAULT_NOTICE = timedelta(days=3)


@dataclass(frozen=True)
class Period:
    """What the customer paid for: service from ``starts_at`` to ``ends_at``."""

    starts_at: datetime
    ends_at: datetime


def state_at(
    ends_at: datetime | None,
    moment: datetime,
    *,
    suspended: bool = False,
    notice: timedelta = DEFAULT_NOTICE,
) -> State:
    if suspended:
        return State.SUSPENDED
    if ends_at is None:
        return State.BILLED
    if moment >= ends_at:
        return State.EXPIRED
    if ends_at - moment <= notice:
        return State.EXPIRING
    return State.ACTIVE


def extend(ends_at: datetime | None, moment: datetime, validity: timedelta) -> Period:
    """A recharge adds ``validity`` from the later of now and the current end: days already
    paid are never lost, and an expired line starts again from now."""
    if validity <= timedelta(0):
        raise ValueError("a recharge extends by a positive validity")
    start = moment if ends_at is None or ends_at < moment else ends_at
    return Period(starts_at=start, ends_at=start + validity)
