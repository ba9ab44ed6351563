"""Idoomly: 36 hours of service at once on an expired ADSL or Fibre subscription, when no
agency can recharge it (at night, on the Friday-Saturday weekend, on a public holiday),
once per period, its price added to the next recharge."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from holidays.countries.algeria import Algeria as AlgerianHolidays

from sila_billing.domain.offers import IDOOMLY_TECHNOLOGIES, Technology

ALGIERS = ZoneInfo("Africa/Algiers")
DURATION = timedelta(hours=36)
# Agencies' day: from 08:00 to 17:00, Sunday to Thursday (Algiers time).
DAY_STARTS = time(8, 0)
DAY_ENDS = time(17, 0)
WEEKEND = frozenset({4, 5})  # Friday, Saturday


class Refusal(enum.StrEnum):
    NOT_ELIGIBLE_OFFER = "idoomly-not-eligible-offer"
    NOT_EXPIRED = "idoomly-not-expired"
    ALREADY_USED = "idoomly-already-used"
    BUSINESS_HOURS = "idoomly-business-hours"
    SUSPENDED = "idoomly-suspended"


class IdoomlyRefused(Exception):
    def __init__(self, reason: Refusal, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def is_holiday(day: date) -> bool:
    return day in AlgerianHolidays(years=day.year)


def is_off_hours(moment: datetime) -> bool:
    """At night, on a weekend day or on a public holiday, in Algiers."""
    local = moment.astimezone(ALGIERS)
    if local.weekday() in WEEKEND or is_holiday(local.date()):
        return True
    return not (DAY_STARTS <= local.time() < DAY_ENDS)


@dataclass(frozen=True)
class Grant:
    starts_at: datetime
    ends_at: datetime
    # The period it belongs to: the end date of the period that expired.
    period_end: datetime


def grant(
    *,
    technology: Technology,
    ends_at: datetime | None,
    suspended: bool,
    last_grant_period_end: datetime | None,
    moment: datetime,
) -> Grant:
    """The grant, or ``IdoomlyRefused`` naming why not."""
    if technology not in IDOOMLY_TECHNOLOGIES:
        raise IdoomlyRefused(Refusal.NOT_ELIGIBLE_OFFER, "Idoomly is for ADSL and Fibre only.")
    if suspended:
        raise IdoomlyRefused(Refusal.SUSPENDED, "A suspended subscription cannot use Idoomly.")
    if ends_at is None or ends_at > moment:
        raise IdoomlyRefused(Refusal.NOT_EXPIRED, "The subscription has not expired.")
    if last_grant_period_end is not None and last_grant_period_end >= ends_at:
        raise IdoomlyRefused(Refusal.ALREADY_USED, "Idoomly was already used in this period.")
    if not is_off_hours(moment):
        raise IdoomlyRefused(
            Refusal.BUSINESS_HOURS,
            "Idoomly is for nights, weekends and holidays; recharge at an agency or online.",
        )
    return Grant(starts_at=moment, ends_at=moment + DURATION, period_end=ends_at)
