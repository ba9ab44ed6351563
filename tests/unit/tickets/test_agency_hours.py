"""Agencies' own business hours, and their Ramadan hours, on the working calendar."""

from datetime import date, datetime, time, timedelta

import pytest

from sila_tickets.domain.agencies import (
    Agency,
    agency_named,
    hours_document,
    hours_from_document,
    periods_document,
    periods_from_document,
)
from sila_tickets.domain.calendar import (
    ALGIERS,
    BusinessHours,
    DailyWindow,
    HoursPeriod,
    WorkingCalendar,
)
from sila_tickets.domain.sla import Duration, SlaClock, compute_due

STANDARD = WorkingCalendar.algeria(years=range(2025, 2028))
SUNDAY_TO_THURSDAY = ("sunday", "monday", "tuesday", "wednesday", "thursday")
CLOSES_AT_FOUR = hours_from_document(
    {key: {"opens": "08:00", "closes": "16:00"} for key in SUNDAY_TO_THURSDAY}
)
RAMADAN_2026 = HoursPeriod(
    first_day=date(2026, 2, 18),
    last_day=date(2026, 3, 19),
    hours=hours_from_document(
        {key: {"opens": "09:00", "closes": "15:00"} for key in SUNDAY_TO_THURSDAY}
    ),
    label="Ramadan 2026",
)
AGENCY = STANDARD.with_hours(CLOSES_AT_FOUR)
AGENCY_IN_RAMADAN = STANDARD.with_hours(CLOSES_AT_FOUR, [RAMADAN_2026])
FIRST_RESPONSE = Duration.working_hours(4)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ALGIERS)


def test_4_working_hours_from_1530_at_an_agency_closing_at_16_end_next_working_day_1130() -> None:
    thursday_1530 = local(2026, 2, 5, 15, 30)
    # 30 minutes on Thursday, the weekend, then 3 h 30 from Sunday 08:00.
    assert compute_due(FIRST_RESPONSE, thursday_1530, AGENCY) == local(2026, 2, 8, 11, 30)
    # On the standard hours (closing 16:30) the same ticket is due at 11:00.
    assert compute_due(FIRST_RESPONSE, thursday_1530, STANDARD) == local(2026, 2, 8, 11, 0)


def test_an_agency_calendar_keeps_the_public_holidays() -> None:
    # Sunday 11 January 2026 15:30: Yennayer (Monday 12) is skipped, due Tuesday 11:30.
    due = compute_due(FIRST_RESPONSE, local(2026, 1, 11, 15, 30), AGENCY)
    assert due == local(2026, 1, 13, 11, 30)


def test_ramadan_hours_replace_the_weekly_hours_on_the_days_they_cover() -> None:
    wednesday_1400 = local(2026, 2, 25, 14)
    # Ramadan: one hour on Wednesday (to 15:00), then three from Thursday 09:00.
    assert compute_due(FIRST_RESPONSE, wednesday_1400, AGENCY_IN_RAMADAN) == local(2026, 2, 26, 12)
    # Without them: two hours on Wednesday (to 16:00), two from Thursday 08:00.
    assert compute_due(FIRST_RESPONSE, wednesday_1400, AGENCY) == local(2026, 2, 26, 10)


def test_after_the_last_day_of_ramadan_and_the_eid_the_usual_hours_come_back() -> None:
    last_day_1400 = local(2026, 3, 19, 14)
    # One Ramadan hour on Thursday 19; the weekend; Sunday 22 is the third day of Eid
    # al-Fitr; then three usual hours from Monday 23 at 08:00.
    assert compute_due(FIRST_RESPONSE, last_day_1400, AGENCY_IN_RAMADAN) == local(2026, 3, 23, 11)


def test_working_days_during_ramadan_end_at_the_ramadan_closing_time() -> None:
    sunday_1000 = local(2026, 2, 22, 10)
    seven_days = Duration.working_days(7)
    # Day 0 is Sunday 22; the seventh working day after it is Tuesday 3 March.
    assert compute_due(seven_days, sunday_1000, AGENCY_IN_RAMADAN) == local(2026, 3, 3, 15)
    assert compute_due(seven_days, sunday_1000, STANDARD) == local(2026, 3, 3, 16, 30)


def test_a_pause_on_an_agency_clock_resumes_on_the_agency_hours() -> None:
    opened = local(2026, 2, 5, 15, 30)
    # Waiting on the customer from 15:45 Thursday to 10:00 Sunday: only 15 minutes ran.
    pause = (local(2026, 2, 5, 15, 45), local(2026, 2, 8, 10))
    clock = SlaClock(FIRST_RESPONSE, opened, AGENCY, [pause])
    assert clock.due_at == local(2026, 2, 8, 13, 45)


def test_overlapping_hour_periods_are_refused() -> None:
    overlapping = HoursPeriod(date(2026, 3, 19), date(2026, 3, 25), BusinessHours.standard())
    with pytest.raises(ValueError, match="overlap"):
        STANDARD.with_hours(CLOSES_AT_FOUR, [RAMADAN_2026, overlapping])


def test_a_period_cannot_end_before_it_starts() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        HoursPeriod(date(2026, 3, 19), date(2026, 2, 18), BusinessHours.standard())


def test_hours_round_trip_through_their_stored_document() -> None:
    document = hours_document(CLOSES_AT_FOUR)
    assert document["sunday"] == {"opens": "08:00", "closes": "16:00"}
    assert "friday" not in document
    assert hours_from_document(document) == CLOSES_AT_FOUR
    assert periods_from_document(periods_document([RAMADAN_2026])) == (RAMADAN_2026,)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"sundy": {"opens": "08:00", "closes": "16:00"}}, "unknown weekday"),
        ({"sunday": {"opens": "8h", "closes": "16:00"}}, "HH:MM"),
        ({"sunday": {"opens": "16:00", "closes": "08:00"}}, "open before it closes"),
        ({"friday": None}, "at least one day"),
    ],
)
def test_a_bad_hours_document_is_refused(document: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        hours_from_document(document)  # type: ignore[arg-type]


def test_the_standard_hours_document_is_sunday_to_thursday_8_to_16_30() -> None:
    assert hours_document(BusinessHours.standard()) == {
        key: {"opens": "08:00", "closes": "16:30"}
        for key in ("monday", "tuesday", "wednesday", "thursday", "sunday")
    }
    assert BusinessHours.standard().window_on(6) == DailyWindow(time(8), time(16, 30))


def agency(code: str, name: str, *, active: bool = True) -> Agency:
    return Agency(code, name, "15", active, BusinessHours.standard())


def test_an_agents_agency_claim_names_an_agency_by_code_or_by_name() -> None:
    known = [agency("15-AZAZGA", "ACTEL Azazga"), agency("15-DRAA-EL-MIZAN", "ACTEL Draâ El Mizan")]
    assert agency_named(known, "15-AZAZGA") == known[0]
    assert agency_named(known, "  actel  draa el mizan ") == known[1]
    assert agency_named(known, "ACTEL Tizi Ouzou centre") is None
    assert agency_named(known, None) is None


def test_an_inactive_agency_is_not_taken_from_a_claim() -> None:
    assert agency_named([agency("15-AZAZGA", "ACTEL Azazga", active=False)], "15-AZAZGA") is None


def test_an_agency_calendar_has_its_hours_and_periods() -> None:
    found = Agency("X-1", "X", "15", True, CLOSES_AT_FOUR, (RAMADAN_2026,))
    calendar = found.calendar(STANDARD)
    assert calendar.business_window(date(2026, 2, 5)) == (
        local(2026, 2, 5, 8),
        local(2026, 2, 5, 16),
    )
    assert calendar.business_window(date(2026, 2, 25)) == (
        local(2026, 2, 25, 9),
        local(2026, 2, 25, 15),
    )
    assert calendar.years == STANDARD.years
    assert timedelta(hours=8) == calendar.working_time_between(local(2026, 2, 8), local(2026, 2, 9))
