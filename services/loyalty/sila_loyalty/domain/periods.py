"""Campaign periods in Africa/Algiers time, including the moving Islamic seasons.

Ramadan and the Eids come from the ``holidays`` package, the calendar tickets uses: Ramadan
of a year runs from its first day (the Islamic calendar of the library) to the eve of Eid
al-Fitr (Algeria's holidays in the library), both at midnight in Algiers. The dates are the
library's estimates; a campaign stores the concrete instants it was created with, so a
later correction of the calendar never moves a running campaign.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from holidays.calendars.islamic import _IslamicLunar
from holidays.countries.algeria import Algeria

from sila_loyalty.domain.ledger import ALGIERS


class Season(enum.StrEnum):
    RAMADAN = "ramadan"
    EID_AL_FITR = "eid_al_fitr"
    EID_AL_ADHA = "eid_al_adha"
    BACK_TO_SCHOOL = "back_to_school"
    YEAR_END = "year_end"


class UnknownSeason(ValueError):
    """The calendar has no such season in that year."""


@dataclass(frozen=True)
class Period:
    """From ``starts_at`` (included) to ``ends_at`` (excluded), timezone-aware."""

    starts_at: datetime
    ends_at: datetime

    def covers(self, instant: datetime) -> bool:
        return self.starts_at <= instant < self.ends_at


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=ALGIERS)


def _holiday_days(year: int, name: str) -> list[date]:
    calendar = Algeria(years=year, language="en_US")
    return sorted(day for day, label in calendar.items() if label.startswith(name))


def ramadan(year: int) -> Period:
    """Ramadan that begins in the Gregorian ``year``."""
    starts = sorted(
        day for day, _ in _IslamicLunar().ramadan_beginning_dates(year) if day.year == year
    )
    if not starts:
        raise UnknownSeason(f"no Ramadan begins in {year}")
    first = starts[0]
    eid = _holiday_days(year, "Eid al-Fitr") + _holiday_days(year + 1, "Eid al-Fitr")
    eid_first = min(d for d in eid if d > first)
    return Period(_midnight(first), _midnight(eid_first))


def _eid(year: int, name: str) -> Period:
    days = _holiday_days(year, name)
    if not days:
        raise UnknownSeason(f"no {name} in {year}")
    return Period(_midnight(days[0]), _midnight(days[-1] + timedelta(days=1)))


def season(name: Season, year: int) -> Period:
    """The period of a named season of ``year`` in Algiers time."""
    if name is Season.RAMADAN:
        return ramadan(year)
    if name is Season.EID_AL_FITR:
        return _eid(year, "Eid al-Fitr")
    if name is Season.EID_AL_ADHA:
        return _eid(year, "Eid al-Adha")
    if name is Season.BACK_TO_SCHOOL:
        # The school year opens in September; the offers run the whole month.
        return Period(_midnight(date(year, 9, 1)), _midnight(date(year, 10, 1)))
    # Year end: from 15 December to the evening of 12 January (Yennayer) included.
    return Period(_midnight(date(year, 12, 15)), _midnight(date(year + 1, 1, 13)))
