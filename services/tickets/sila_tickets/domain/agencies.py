"""Commercial agencies (ACTEL) and their business hours, which a ticket's working clock follows.

Hours are kept as data: a weekly document (one window per open weekday, local Africa/Algiers
times) plus date-ranged periods with other hours (Ramadan). This module turns that data into
the calendar's `BusinessHours` and `HoursPeriod` and back; pure, without a database.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, time
from typing import Any

from sila_tickets.domain.calendar import (
    BusinessHours,
    DailyWindow,
    HoursPeriod,
    Weekday,
    WorkingCalendar,
    check_no_overlap,
)

# Upper-case letters, digits and dashes: "15-TIZI-OUZOU". Fits the tickets' agency column.
AGENCY_CODE_PATTERN = r"^[A-Z0-9][A-Z0-9-]{1,39}$"
WEEKDAY_NAMES: dict[str, Weekday] = {day.name.lower(): day for day in Weekday}
# "HH:MM", 24-hour, local wall-clock time in Africa/Algiers.
LOCAL_TIME_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d$"

HoursDocument = Mapping[str, Mapping[str, str] | None]


@dataclass(frozen=True)
class Agency:
    """An agency as the SLA clock needs it: its code, whether it works, and its hours."""

    code: str
    name: str
    wilaya_code: str
    active: bool
    hours: BusinessHours
    periods: tuple[HoursPeriod, ...] = ()

    def calendar(self, base: WorkingCalendar) -> WorkingCalendar:
        """The base calendar's holidays with this agency's hours."""
        return base.with_hours(self.hours, self.periods)


def parse_local_time(value: str) -> time:
    if not re.fullmatch(LOCAL_TIME_PATTERN, value):
        raise ValueError(f"expected a local time HH:MM, got {value!r}")
    hour, minute = value.split(":")
    return time(int(hour), int(minute))


def hours_from_document(document: HoursDocument) -> BusinessHours:
    """`{"sunday": {"opens": "08:00", "closes": "16:30"}, ...}`; days left out are closed."""
    windows: dict[Weekday, DailyWindow] = {}
    for name, window in document.items():
        day = WEEKDAY_NAMES.get(name)
        if day is None:
            raise ValueError(f"unknown weekday {name!r}; expected one of {list(WEEKDAY_NAMES)}")
        if window is None:
            continue
        windows[day] = DailyWindow(
            parse_local_time(window["opens"]), parse_local_time(window["closes"])
        )
    return BusinessHours.weekly(windows)


def hours_document(hours: BusinessHours) -> dict[str, dict[str, str]]:
    """The stored form of weekly hours, open days only, Monday first."""
    return {
        day.name.lower(): {
            "opens": window.opens.strftime("%H:%M"),
            "closes": window.closes.strftime("%H:%M"),
        }
        for day in Weekday
        if (window := hours.window_on(day)) is not None
    }


def periods_from_document(documents: Iterable[Mapping[str, Any]]) -> tuple[HoursPeriod, ...]:
    """`[{"label", "first_day", "last_day", "hours"}]` as periods; raises if any overlap."""
    periods = tuple(
        HoursPeriod(
            first_day=date.fromisoformat(str(document["first_day"])),
            last_day=date.fromisoformat(str(document["last_day"])),
            hours=hours_from_document(document["hours"]),
            label=str(document.get("label") or ""),
        )
        for document in documents
    )
    check_no_overlap(periods)
    return periods


def periods_document(periods: Sequence[HoursPeriod]) -> list[dict[str, Any]]:
    return [
        {
            "label": period.label,
            "first_day": period.first_day.isoformat(),
            "last_day": period.last_day.isoformat(),
            "hours": hours_document(period.hours),
        }
        for period in sorted(periods, key=lambda period: period.first_day)
    ]


def comparable(text: str) -> str:
    """Lower case, no accents, single spaces: "ACTEL  Draâ" and "actel draa" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(plain.casefold().split())


def agency_named(agencies: Iterable[Agency], claim: str | None) -> Agency | None:
    """The active agency an agent's `agency` claim names, by code or by name, if any.

    Identity keeps an agent's agency as free text, so the claim may hold the code
    ("15-AZAZGA") or the name ("ACTEL Azazga"); anything else names no agency.
    """
    if not claim or not claim.strip():
        return None
    wanted = comparable(claim)
    for agency in agencies:
        if agency.active and wanted in (comparable(agency.code), comparable(agency.name)):
            return agency
    return None
