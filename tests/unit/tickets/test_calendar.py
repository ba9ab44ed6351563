"""The Algerian working calendar: holidays from the library, overrides, business hours."""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from sila_tickets.domain.calendar import (
    ALGIERS,
    BusinessHours,
    CalendarCoverageError,
    DailyWindow,
    Holiday,
    HolidayOverride,
    OverrideAction,
    Weekday,
    WorkingCalendar,
    algerian_holidays,
)

CALENDAR = WorkingCalendar.algeria(years=range(2025, 2028))


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ALGIERS)


@pytest.mark.parametrize("year", [2025, 2026, 2027])
@pytest.mark.parametrize("month", range(1, 13))
def test_algiers_is_utc_plus_one_all_year_without_daylight_saving(year: int, month: int) -> None:
    noon = local(year, month, 15, 12)
    assert noon.utcoffset() == timedelta(hours=1)
    assert noon.dst() in (None, timedelta(0))


@pytest.mark.parametrize("year", [2025, 2026, 2027])
@pytest.mark.parametrize(
    ("month", "day"),
    [(1, 1), (1, 12), (5, 1), (7, 5), (11, 1)],
    ids=["new-year", "yennayer", "labour-day", "independence-day", "revolution-day"],
)
def test_fixed_national_holidays_are_holidays_every_year(year: int, month: int, day: int) -> None:
    assert CALENDAR.is_holiday(date(year, month, day))
    assert not CALENDAR.is_working_day(date(year, month, day))


def test_yennayer_is_named_amazigh_new_year_and_not_estimated() -> None:
    (yennayer,) = CALENDAR.holidays_on(date(2026, 1, 12))
    assert yennayer == Holiday(date(2026, 1, 12), "Amazigh New Year", estimated=False)


def test_eid_al_fitr_2026_is_three_estimated_days_from_friday_20_march() -> None:
    eid_days = [h.day for h in CALENDAR.holidays if h.name == "Eid al-Fitr" and h.day.year == 2026]
    assert eid_days == [date(2026, 3, 20), date(2026, 3, 21), date(2026, 3, 22)]
    assert all(h.estimated for h in CALENDAR.holidays_on(date(2026, 3, 20)))


def test_eid_al_adha_2026_is_three_days_from_wednesday_27_may() -> None:
    eid_days = [h.day for h in CALENDAR.holidays if h.name == "Eid al-Adha" and h.day.year == 2026]
    assert eid_days == [date(2026, 5, 27), date(2026, 5, 28), date(2026, 5, 29)]


def test_ashura_and_independence_day_share_5_july_2025() -> None:
    names = {h.name: h.estimated for h in CALENDAR.holidays_on(date(2025, 7, 5))}
    assert names == {"Ashura": True, "Independence Day": False}


def test_holiday_names_follow_the_requested_language() -> None:
    names = {h.name for h in algerian_holidays([2026], language="fr") if h.day == date(2026, 7, 5)}
    assert names == {"Fête de l'Indépendance"}


@pytest.mark.parametrize(
    ("day", "is_working"),
    [
        (date(2026, 2, 5), True),  # Thursday
        (date(2026, 2, 6), False),  # Friday
        (date(2026, 2, 7), False),  # Saturday
        (date(2026, 2, 8), True),  # Sunday
    ],
)
def test_weekend_is_friday_and_saturday(day: date, is_working: bool) -> None:
    assert CALENDAR.is_working_day(day) is is_working


def test_yennayer_on_a_monday_is_not_worked() -> None:
    assert date(2026, 1, 12).weekday() == Weekday.MONDAY
    assert CALENDAR.business_window(date(2026, 1, 12)) is None


def test_override_moving_eid_al_fitr_one_day_later_frees_friday_and_takes_monday() -> None:
    moved = WorkingCalendar.algeria(
        years=[2026],
        overrides=[
            HolidayOverride.remove(date(2026, 3, 20), "Eid al-Fitr"),
            HolidayOverride.add(date(2026, 3, 23), "Eid al-Fitr"),
        ],
    )
    assert not moved.is_holiday(date(2026, 3, 20))
    assert moved.is_holiday(date(2026, 3, 23))
    assert not moved.is_working_day(date(2026, 3, 23))
    assert CALENDAR.is_working_day(date(2026, 3, 23))


def test_confirming_an_estimated_date_clears_the_estimated_flag() -> None:
    confirmed = WorkingCalendar.algeria(
        years=[2026], overrides=[HolidayOverride.add(date(2026, 5, 27), "Eid al-Adha")]
    )
    assert confirmed.holidays_on(date(2026, 5, 27)) == (
        Holiday(date(2026, 5, 27), "Eid al-Adha", estimated=False),
    )


def test_removing_ashura_from_5_july_keeps_independence_day() -> None:
    calendar = WorkingCalendar.algeria(
        years=[2025], overrides=[HolidayOverride.remove(date(2025, 7, 5), "Ashura")]
    )
    assert [h.name for h in calendar.holidays_on(date(2025, 7, 5))] == ["Independence Day"]


def test_removing_a_day_without_a_name_drops_every_holiday_that_day() -> None:
    calendar = WorkingCalendar.algeria(
        years=[2025], overrides=[HolidayOverride.remove(date(2025, 7, 5))]
    )
    assert not calendar.is_holiday(date(2025, 7, 5))


def test_adding_a_holiday_requires_a_name() -> None:
    with pytest.raises(ValueError, match="name"):
        HolidayOverride(date(2026, 1, 1), OverrideAction.ADD)


def test_asking_about_a_year_that_was_not_seeded_is_refused() -> None:
    with pytest.raises(CalendarCoverageError):
        CALENDAR.is_working_day(date(2028, 1, 3))


def test_a_calendar_without_declared_years_trusts_its_holidays_for_any_year() -> None:
    calendar = WorkingCalendar([Holiday(date(2030, 1, 1), "New Year's Day")])
    assert calendar.is_holiday(date(2030, 1, 1))
    assert calendar.is_working_day(date(2031, 1, 1))  # a Wednesday


def test_working_time_from_thursday_15h_to_sunday_9h_is_two_and_a_half_hours() -> None:
    lost = CALENDAR.working_time_between(local(2026, 2, 5, 15), local(2026, 2, 8, 9))
    assert lost == timedelta(hours=2, minutes=30)


def test_four_working_hours_from_sunday_16h_skip_yennayer_monday() -> None:
    due = CALENDAR.add_working_time(local(2026, 1, 11, 16), timedelta(hours=4))
    assert due == local(2026, 1, 13, 11, 30)


def test_working_time_that_ends_at_closing_lands_on_closing_not_next_opening() -> None:
    due = CALENDAR.add_working_time(local(2026, 2, 8, 8), timedelta(hours=8, minutes=30))
    assert due == local(2026, 2, 8, 16, 30)


def test_an_utc_instant_is_read_on_its_algiers_local_day() -> None:
    thursday_2330_utc = datetime(2026, 2, 5, 23, 30, tzinfo=UTC)  # Friday 00:30 in Algiers
    assert CALENDAR.local_date(thursday_2330_utc) == date(2026, 2, 6)
    assert CALENDAR.add_working_time(thursday_2330_utc, timedelta(hours=1)) == local(2026, 2, 8, 9)


def test_is_open_only_inside_business_hours() -> None:
    assert CALENDAR.is_open(local(2026, 2, 8, 8))
    assert not CALENDAR.is_open(local(2026, 2, 8, 16, 30))
    assert not CALENDAR.is_open(local(2026, 2, 6, 10))


def test_an_agency_open_on_saturday_morning_counts_saturday() -> None:
    agency_hours = BusinessHours.weekly(
        {
            **dict.fromkeys(
                [Weekday.SUNDAY, Weekday.MONDAY, Weekday.TUESDAY, Weekday.WEDNESDAY],
                DailyWindow(time(8), time(16, 30)),
            ),
            Weekday.THURSDAY: DailyWindow(time(8), time(16, 30)),
            Weekday.SATURDAY: DailyWindow(time(9), time(12)),
        }
    )
    agency = CALENDAR.with_hours(agency_hours)
    thursday_evening = local(2026, 2, 5, 18)
    assert agency.add_working_time(thursday_evening, timedelta(hours=4)) == local(2026, 2, 8, 9)
    assert CALENDAR.add_working_time(thursday_evening, timedelta(hours=4)) == local(2026, 2, 8, 12)
    assert agency.is_holiday(date(2026, 1, 12))


def test_standard_hours_are_sunday_to_thursday_8_to_16_30() -> None:
    hours = BusinessHours.standard()
    open_days = {Weekday(d) for d in range(7) if hours.window_on(d) is not None}
    assert open_days == {
        Weekday.SUNDAY,
        Weekday.MONDAY,
        Weekday.TUESDAY,
        Weekday.WEDNESDAY,
        Weekday.THURSDAY,
    }
    assert hours.window_on(Weekday.SUNDAY) == DailyWindow(time(8), time(16, 30))


def test_a_business_day_must_open_before_it_closes() -> None:
    with pytest.raises(ValueError, match="open before"):
        DailyWindow(time(16, 30), time(8))


def test_business_hours_must_open_at_least_one_day() -> None:
    with pytest.raises(ValueError, match="at least one day"):
        BusinessHours.weekly({})


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CALENDAR.add_working_time(datetime(2026, 2, 5, 10), timedelta(hours=1))
