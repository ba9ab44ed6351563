"""Bills of postpaid lines: amounts, due dates and states."""

from __future__ import annotations

import enum
import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ALGIERS = ZoneInfo("Africa/Algiers")
PAYMENT_TERM = timedelta(days=15)
PERIOD_PATTERN = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class BillState(enum.StrEnum):
    ISSUED = "issued"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    OVERDUE = "overdue"
    CANCELLED = "cancelled"


PAYABLE = frozenset({BillState.ISSUED, BillState.PARTIALLY_PAID, BillState.OVERDUE})


def parse_period(period: str) -> date:
    """``2026-11`` -> the first day of that month."""
    match = PERIOD_PATTERN.match(period)
    if not match:
        raise ValueError("a period is YYYY-MM")
    return date(int(match.group(1)), int(match.group(2)), 1)


def due_at(issued_on: date) -> datetime:
    """Due at the end of the 15th day after issue, Algiers time."""
    return datetime.combine(issued_on + PAYMENT_TERM, time(23, 59, 59), ALGIERS)


def state_after_payment(amount: int, paid: int, due: datetime, moment: datetime) -> BillState:
    if paid >= amount:
        return BillState.PAID
    if moment > due:
        return BillState.OVERDUE
    return BillState.PARTIALLY_PAID if paid > 0 else BillState.ISSUED


def outstanding(amount: int, paid: int) -> int:
    return max(0, amount - paid)


def bill_number(period: str, sequence: int) -> str:
    """``F-202611-00000042``: the period and a sequence, readable on the phone."""
    return f"F-{period.replace('-', '')}-{sequence:08d}"
