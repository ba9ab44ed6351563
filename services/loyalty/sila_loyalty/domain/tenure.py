"""Tenure anniversaries, in Africa/Algiers time: the day a customer's registration comes
round again, each year from the first; a 29 February registration is celebrated on
1 March in the other years."""

from __future__ import annotations

from datetime import date, datetime, time

from sila_loyalty.domain.ledger import ALGIERS

ANNIVERSARY = "loyalty.tenure.anniversary"


def anniversary_day(registered_at: datetime, year: int) -> date:
    local = registered_at.astimezone(ALGIERS).date()
    try:
        return local.replace(year=year)
    except ValueError:  # 29 February in a common year
        return date(year, 3, 1)


def due_anniversary(
    registered_at: datetime, celebrated_year: int | None, now: datetime
) -> tuple[int, datetime] | None:
    """The year whose anniversary is due and not yet celebrated, with its instant (midnight,
    Algiers), or None. Only this year's: a job that was down for longer does not celebrate
    the missed years again."""
    today = now.astimezone(ALGIERS).date()
    year = today.year
    if registered_at.astimezone(ALGIERS).year >= year:
        return None
    if celebrated_year is not None and celebrated_year >= year:
        return None
    day = anniversary_day(registered_at, year)
    if day > today:
        return None
    return year, datetime.combine(day, time(0, 0), tzinfo=ALGIERS)


def anniversary_event_id(customer_id: str, year: int) -> str:
    """One anniversary per customer per year: the id its grants are keyed on."""
    return f"tenure:{customer_id}:{year}"
